import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type GraphAnswer, graphError } from './routes.js';
import type { StoredItem } from './store.js';

/**
 * Pre-authenticated download URLs, as `/content` redirects to: the URL alone
 * grants access, for about an hour. A request that also carries an
 * Authorization header is refused and counted, which is how tests prove the
 * connector never sends its Graph token to the storage host.
 */

interface Minted {
  itemId: string;
  /** The bytes when the URL was minted, as a real pre-authenticated URL pins a version. */
  content: Buffer;
  mimeType: string;
  expiresAt: number;
}

const LIFETIME_MS = 60 * 60_000;

export type DownloadAnswer = GraphAnswer & { raw?: Buffer };

export class PreauthenticatedDownloads {
  private readonly minted = new Map<string, Minted>();
  private readonly served = new Map<string, number>();
  /** Items whose download links refuse, and how many more times. */
  private readonly refusals = new Map<string, { status: 401 | 403; left: number }>();
  authorizationLeaks = 0;

  /**
   * The next `times` download links of one item refuse with 401 or 403 although they are fresh:
   * SharePoint's `download.aspx?…tempauth=` does this for single files after `/content`'s redirect
   * (msgraph-sdk-dotnet#3057, OneDrive/onedrive-api-docs#1686, #640 for app-only, #189; 403:
   * microsoftgraph/microsoft-graph-docs#2455, #2458). SharePoint's own error body, not Graph's.
   */
  refuse(itemId: string, status: 401 | 403, times = Number.POSITIVE_INFINITY): void {
    this.refusals.set(itemId, { status, left: times });
  }

  constructor(private readonly baseUrl: string) {}

  mint(item: StoredItem): string {
    const token = randomBytes(12).toString('hex');
    this.minted.set(token, { itemId: item.id, content: item.content, mimeType: item.mimeType ?? 'application/octet-stream', expiresAt: Date.now() + LIFETIME_MS });
    return `${this.baseUrl}/download/${token}?tempauth=${randomBytes(8).toString('hex')}`;
  }

  /** Successful downloads (200 or 206) of one item. */
  count(itemId: string): number {
    return this.served.get(itemId) ?? 0;
  }

  serve(req: IncomingMessage, token: string): DownloadAnswer {
    const entry = this.minted.get(token);
    if (!entry || entry.expiresAt < Date.now()) return graphError(401, 'unauthenticated', 'The download link has expired.');
    if (req.headers.authorization !== undefined) {
      this.authorizationLeaks++;
      return graphError(401, 'unauthenticated', 'Pre-authenticated download URLs must not carry an Authorization header.');
    }
    const refusal = this.refusals.get(entry.itemId);
    if (refusal && refusal.left > 0) {
      refusal.left--;
      const denied = { 'odata.error': { code: '-2147024891, System.UnauthorizedAccessException', message: { lang: 'en-US', value: 'Access denied.' } } };
      return { status: refusal.status, body: denied };
    }
    const size = entry.content.length;
    const headers: Record<string, string> = { 'content-type': entry.mimeType, 'accept-ranges': 'bytes' };
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (!range || (range[1] === '' && range[2] === '')) return this.count200(entry, { status: 200, raw: entry.content, headers });
    // bytes=a-b, bytes=a- (to the end), bytes=-n (the last n)
    const start = range[1] === '' ? Math.max(0, size - Number(range[2])) : Number(range[1]);
    const end = range[1] === '' || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
    if (start > end || start >= size) return { status: 416, raw: Buffer.alloc(0), headers: { 'content-range': `bytes */${size}` } };
    return this.count200(entry, { status: 206, raw: entry.content.subarray(start, end + 1), headers: { ...headers, 'content-range': `bytes ${start}-${end}/${size}` } });
  }

  clear(): void {
    this.minted.clear();
    this.refusals.clear();
    this.served.clear();
    this.authorizationLeaks = 0;
  }

  private count200(entry: Minted, answer: DownloadAnswer): DownloadAnswer {
    this.served.set(entry.itemId, this.count(entry.itemId) + 1);
    return answer;
  }
}
