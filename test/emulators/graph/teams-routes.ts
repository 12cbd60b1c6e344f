import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { type Json, renderItem } from './render.js';
import type { DownloadAnswer } from './downloads.js';
import { graphError } from './routes.js';
import type { GraphStore } from './store.js';
import type { StoredChannel, StoredMessage, StoredTeam, StoredThread, TeamsRefusal, TeamsStore } from './teams-store.js';

/**
 * Graph's Teams endpoints as its reference documents them:
 *
 * - `GET /teams/{t}`, `GET /teams/{t}/channels` (shared channels and system
 *   messages read `unknownFutureValue` unless the request sends
 *   `Prefer: include-unknown-enum-members`), `GET …/channels/{c}/filesFolder`;
 * - `GET …/messages` (every root, any age, newest first, `$top` ≤ 50,
 *   `$expand=replies` with at most 1,000 replies and `replies@odata.nextLink`);
 * - `GET …/messages/delta`: roots only, the last eight months only; `$top` ≤ 50;
 *   the only filter is `lastModifiedDateTime gt <time>`, and with it a round
 *   returns every reply chain (root and replies) created or changed after the
 *   time, and the rounds that follow its deltaLink keep returning changed
 *   chains. Without the filter a round returns roots whose own message changed:
 *   a new, edited or deleted reply does not bring its root back (the reference
 *   promises no more). Deleted roots come back as `@removed`. An expired token
 *   answers 410 `resyncRequired` or 400 `syncStateNotFound`;
 * - `GET …/messages/{id}`, `…/replies` (newest first, `$top` ≤ 50),
 *   `…/hostedContents/{id}/$value` (the bytes, typed only by Content-Type);
 * - `GET /shares/{u!base64url(url)}/driveItem`.
 *
 * With `limits.enforce`, requests beyond 4 a second on one team or channel, or
 * 20 a second on channel messages for the tenant (token buckets of that size),
 * answer 429 with `Retry-After`.
 */

const EIGHT_MONTHS_MS = 240 * 24 * 3600_000;
const MAX_TOP = 50;
const EXPANDED_REPLIES = 1000;

interface DeltaWalk {
  channelKey: string;
  rootIds: string[];
  mode: 'roots' | 'chains';
  upToSeq: number;
  generation: number;
  /** Seq the round started from (undefined for a first round): roots changed since are reported as changes. */
  since?: number;
  /** An empty channel's round whose nextLink Graph then refuses. */
  refusedNext?: boolean;
}

type DeltaToken = { w: string; o: number } | { mode: 'roots' | 'chains'; s: number; g: number; c: string };

const encodeToken = (token: DeltaToken) => Buffer.from(JSON.stringify(token)).toString('base64url');
function decodeToken(raw: string): DeltaToken | undefined {
  try {
    const token = JSON.parse(Buffer.from(raw, 'base64url').toString()) as DeltaToken;
    return typeof token === 'object' && token !== null ? token : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Teams' 403s carry Teams' codes, never SharePoint's `accessDenied`: `Forbidden`
 * and `UnknownError` (microsoft-graph-docs#6318, #10792), and the protected-API
 * refusal (https://learn.microsoft.com/en-us/graph/teams-protected-apis).
 */
function refusal(kind: TeamsRefusal): DownloadAnswer {
  if (kind === 'protectedApi') {
    return graphError(403, 'Forbidden', 'Invoked API requires Protected API access in application-only context when not using Resource Specific Consent. Visit https://docs.microsoft.com/en-us/graph/teams-protected-apis for more details.');
  }
  return kind === 'UnknownError' ? graphError(403, 'UnknownError', '') : graphError(403, 'Forbidden', 'Forbidden');
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface TeamsLimits {
  enforce: boolean;
  /** 429 answers given because a limit was exceeded. */
  throttled: number;
}

export class TeamsRoutes {
  private readonly walks = new Map<string, DeltaWalk>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** Replies expanded per root before `replies@odata.nextLink` (Graph: 1,000). */
  expandedReplies = EXPANDED_REPLIES;
  /**
   * Leave `replies@odata.nextLink` out when the expansion is cut at expandedReplies, as reported
   * on real tenants for roots with 2,000 replies, on list and delta alike (microsoft-graph-docs-contrib#8819).
   */
  omitRepliesNextLink = false;
  /** Page the channel list this many channels at a time (unset: one page, as the reference shows). */
  channelsPerPage: number | undefined = undefined;

  constructor(
    private readonly teams: () => TeamsStore,
    private readonly drives: () => GraphStore,
    private readonly graphBaseUrl: string,
    readonly limits: TeamsLimits = { enforce: false, throttled: 0 },
  ) {}

  reset(): void {
    this.walks.clear();
    this.buckets.clear();
    this.limits.throttled = 0;
    this.limits.enforce = false;
    this.expandedReplies = EXPANDED_REPLIES;
    this.omitRepliesNextLink = false;
    this.channelsPerPage = undefined;
  }

  handles(path: string): boolean {
    return path.startsWith('/teams/') || path.startsWith('/shares/');
  }

  answer(path: string, url: URL, headers: IncomingHttpHeaders): DownloadAnswer {
    const share = /^\/shares\/([^/]+)\/driveItem$/.exec(path);
    if (share) return this.shares(share[1] ?? '', url);
    const m = /^\/teams\/([^/]+)(?:\/channels(?:\/([^/]+)(\/.*)?)?)?$/.exec(path);
    if (!m) return graphError(400, 'BadRequest', `Resource not found for the segment '${path}'.`);
    const [, teamId = '', channelId, rest = ''] = m;
    const team = this.teams().teams.get(teamId);
    if (!team) return graphError(404, 'NotFound', `No team found with Group Id ${teamId}`);
    const preferUnknown = /include-unknown-enum-members/i.test(String(headers.prefer ?? ''));
    const onMessages = /^\/messages/.test(rest);
    const throttled = this.throttle([`team:${teamId}`, ...(channelId ? [`channel:${channelId}`] : []), ...(onMessages ? ['tenant-messages'] : [])]);
    if (throttled) return throttled;

    if (!path.includes('/channels')) return { status: 200, body: { id: team.id, displayName: team.displayName } };
    if (channelId === undefined) {
      const value = [...team.channels.values()].filter((c) => !c.deleted).map((c) => this.renderChannel(team, c, preferUnknown));
      // The channel-list reference shows one page; a collection may still be paged with @odata.nextLink
      // (https://learn.microsoft.com/en-us/graph/paging): with channelsPerPage set, the emulator pages it.
      if (this.channelsPerPage === undefined) return { status: 200, body: { '@odata.count': value.length, value } };
      const offset = Number(url.searchParams.get('$skiptoken') ?? '0') || 0;
      const body: Json = { value: value.slice(offset, offset + this.channelsPerPage) };
      if (offset + this.channelsPerPage < value.length) {
        const next = new URL(url.toString());
        next.searchParams.set('$skiptoken', String(offset + this.channelsPerPage));
        body['@odata.nextLink'] = `${this.graphBaseUrl}${path}${next.search}`;
      }
      return { status: 200, body };
    }
    const channel = team.channels.get(channelId);
    if (!channel || channel.deleted) return graphError(404, 'NotFound', 'Channel not found.');
    if (rest === '') return { status: 200, body: this.renderChannel(team, channel, preferUnknown) };
    if (rest === '/filesFolder') return this.filesFolder(channel);
    if (channel.denies && rest.startsWith('/messages')) return refusal(channel.denies);
    if (rest === '/messages') return this.list(channel, url, preferUnknown);
    if (rest === '/messages/delta') return this.delta(channel, url, preferUnknown);
    const msg = /^\/messages\/([^/]+)(?:\/replies(?:\/([^/]+))?)?(\/hostedContents\/([^/]+)\/\$value)?$/.exec(rest);
    if (!msg) return graphError(400, 'BadRequest', `Unsupported segment '${rest}'.`);
    const [, rootId = '', replyId, hostedPart, hostedId] = msg;
    const thread = channel.threads.get(rootId);
    if (!thread) return graphError(404, 'NotFound', 'Message not found.');
    const listReplies = rest.endsWith('/replies');
    // Replies, newest first: Graph's list replies and $expand=replies order (microsoft-graph-docs#12732).
    if (listReplies) return this.replies(channel, thread, url, preferUnknown);
    const message = replyId === undefined ? thread.root : thread.replies.find((r) => r.id === replyId);
    if (!message) return graphError(404, 'NotFound', 'Message not found.');
    if (hostedPart) {
      const hosted = message.hosted.get(hostedId ?? '');
      if (!hosted || message.deleted !== null) return graphError(404, 'NotFound', 'Hosted content not found.');
      return { status: 200, raw: hosted.bytes, headers: { 'content-type': hosted.contentType } };
    }
    return { status: 200, body: this.renderMessage(channel, message, preferUnknown) };
  }

  /** Token buckets, as Microsoft describes Teams throttling: `limit` tokens, refilled at `limit` a second. */
  private throttle(keys: string[]): DownloadAnswer | undefined {
    if (!this.limits.enforce) return undefined;
    const now = Date.now();
    const buckets = keys.map((key) => {
      const limit = key === 'tenant-messages' ? 20 : 4;
      const bucket = this.buckets.get(key) ?? { tokens: limit, at: now };
      bucket.tokens = Math.min(limit, bucket.tokens + ((now - bucket.at) * limit) / 1000);
      bucket.at = now;
      this.buckets.set(key, bucket);
      return bucket;
    });
    if (buckets.every((b) => b.tokens >= 1)) {
      for (const b of buckets) b.tokens -= 1;
      return undefined;
    }
    this.limits.throttled++;
    return { ...graphError(429, 'TooManyRequests', 'Too many requests.'), headers: { 'retry-after': '1' } };
  }

  private renderChannel(team: StoredTeam, channel: StoredChannel, preferUnknown: boolean): Json {
    return {
      id: channel.id,
      displayName: channel.displayName,
      membershipType: channel.membershipType === 'shared' && !preferUnknown ? 'unknownFutureValue' : channel.membershipType,
      webUrl: `https://teams.microsoft.com/l/channel/${encodeURIComponent(channel.id)}/${encodeURIComponent(channel.displayName)}?groupId=${team.id}`,
      createdDateTime: '2025-01-01T00:00:00Z',
    };
  }

  private filesFolder(channel: StoredChannel): DownloadAnswer {
    // A private or shared channel's site is provisioned lazily: until then filesFolder answers 404
    // "Sharepoint folder not found", 403 or 500 (microsoft-graph-docs#6440, microsoft-graph-docs-contrib#8982, #4452).
    if (channel.filesFolderAnswer === 404) return graphError(404, 'NotFound', 'Sharepoint folder not found.');
    if (channel.filesFolderAnswer === 403) return graphError(403, 'Forbidden', 'Forbidden');
    if (channel.filesFolderAnswer === 500) return graphError(500, 'UnknownError', 'Failed to execute request.');
    const item = channel.filesFolder ? this.drives().item(channel.filesFolder.itemId) : undefined;
    if (!item || item.deleted) return graphError(404, 'NotFound', 'Files folder not found.');
    return { status: 200, body: renderItem(this.drives(), item, { inDelta: false }) };
  }

  renderMessage(channel: StoredChannel, message: StoredMessage, preferUnknown: boolean): Json {
    const deleted = message.deleted !== null;
    const messageType = message.messageType !== 'message' && !preferUnknown ? 'unknownFutureValue' : message.messageType;
    return {
      '@odata.type': '#microsoft.graph.chatMessage',
      id: message.id,
      replyToId: message.replyToId,
      etag: String(message.lastModified),
      messageType,
      createdDateTime: iso(message.created),
      lastModifiedDateTime: iso(message.lastModified),
      lastEditedDateTime: iso(message.lastEdited),
      deletedDateTime: iso(message.deleted),
      subject: message.replyToId === null ? message.subject : null,
      summary: null,
      chatId: null,
      importance: 'normal',
      locale: 'en-us',
      webUrl: `https://teams.microsoft.com/l/message/${encodeURIComponent(channel.id)}/${message.id}?groupId=${channel.teamId}&parentMessageId=${message.replyToId ?? message.id}`,
      policyViolation: null,
      eventDetail: message.messageType === 'message' ? null : { '@odata.type': '#microsoft.graph.membersAddedEventMessageDetail' },
      from:
        message.author === null || message.messageType !== 'message'
          ? null
          : { application: null, device: null, user: { '@odata.type': '#microsoft.graph.teamworkUserIdentity', id: message.author.id, displayName: message.author.displayName, userIdentityType: 'aadUser' } },
      body: deleted ? { contentType: 'html', content: '' } : { contentType: message.bodyType, content: message.body },
      channelIdentity: { teamId: channel.teamId, channelId: channel.id },
      attachments: deleted ? [] : message.attachments.map((a) => ({ id: a.id, contentType: a.contentType, contentUrl: a.contentUrl ?? null, content: a.content ?? null, name: a.name ?? null, thumbnailUrl: null, teamsAppId: null })),
      mentions: deleted ? [] : message.mentions.map((m) => ({ id: m.id, mentionText: m.mentionText, mentioned: { application: null, device: null, conversation: null, tag: null, user: { id: m.userId, displayName: m.mentionText, userIdentityType: 'aadUser' } } })),
      reactions: [],
    };
  }

  /** A root as a page carries it, with `$expand=replies` when asked. */
  private renderRoot(channel: StoredChannel, thread: StoredThread, url: URL, preferUnknown: boolean): Json {
    const json = this.renderMessage(channel, thread.root, preferUnknown);
    if (url.searchParams.get('$expand') === 'replies') {
      const newestFirst = [...thread.replies].reverse();
      json.replies = newestFirst.slice(0, this.expandedReplies).map((r) => this.renderMessage(channel, r, preferUnknown));
      if (newestFirst.length > this.expandedReplies && !this.omitRepliesNextLink) {
        json['replies@odata.nextLink'] = `${this.messagesUrl(channel)}/${thread.root.id}/replies?$top=${MAX_TOP}&$skiptoken=${this.expandedReplies}`;
      }
    }
    return json;
  }

  private messagesUrl(channel: StoredChannel): string {
    return `${this.graphBaseUrl}/teams/${encodeURIComponent(channel.teamId)}/channels/${encodeURIComponent(channel.id)}/messages`;
  }

  private top(url: URL): number | DownloadAnswer {
    const raw = url.searchParams.get('$top');
    if (raw === null) return 20;
    const top = Number(raw);
    if (!Number.isInteger(top) || top < 1) return graphError(400, 'BadRequest', 'Invalid $top.');
    if (top > MAX_TOP) return graphError(400, 'BadRequest', `The maximum $top is ${MAX_TOP}.`);
    return top;
  }

  private list(channel: StoredChannel, url: URL, preferUnknown: boolean): DownloadAnswer {
    const top = this.top(url);
    if (typeof top !== 'number') return top;
    const offset = Number(url.searchParams.get('$skiptoken') ?? '0') || 0;
    const roots = [...channel.threads.values()].sort((a, b) => b.root.created - a.root.created);
    const body: Json = { value: roots.slice(offset, offset + top).map((t) => this.renderRoot(channel, t, url, preferUnknown)) };
    if (offset + top < roots.length) {
      const next = new URL(this.messagesUrl(channel));
      for (const key of ['$top', '$expand']) {
        const v = url.searchParams.get(key);
        if (v !== null) next.searchParams.set(key, v);
      }
      next.searchParams.set('$skiptoken', String(offset + top));
      body['@odata.nextLink'] = next.toString();
    }
    return { status: 200, body };
  }

  private replies(channel: StoredChannel, thread: StoredThread, url: URL, preferUnknown: boolean): DownloadAnswer {
    const top = this.top(url);
    if (typeof top !== 'number') return top;
    const offset = Number(url.searchParams.get('$skiptoken') ?? '0') || 0;
    const newestFirst = [...thread.replies].reverse();
    const body: Json = { value: newestFirst.slice(offset, offset + top).map((r) => this.renderMessage(channel, r, preferUnknown)) };
    if (offset + top < newestFirst.length) body['@odata.nextLink'] = `${this.messagesUrl(channel)}/${thread.root.id}/replies?$top=${top}&$skiptoken=${offset + top}`;
    return { status: 200, body };
  }

  private delta(channel: StoredChannel, url: URL, preferUnknown: boolean): DownloadAnswer {
    const top = this.top(url);
    if (typeof top !== 'number') return top;
    const channelKey = `${channel.teamId}/${channel.id}`;
    const link = (param: '$skiptoken' | '$deltatoken', token: DeltaToken) => {
      const next = new URL(`${this.messagesUrl(channel)}/delta`);
      for (const key of ['$top', '$expand']) {
        const v = url.searchParams.get(key);
        if (v !== null) next.searchParams.set(key, v);
      }
      next.searchParams.set(param, encodeToken(token));
      return next.toString();
    };
    const expired = () =>
      channel.expiredAnswer === 400
        ? graphError(400, 'syncStateNotFound', 'The sync state generation is not found.')
        : graphError(410, 'resyncRequired', 'Resync required.');

    const skip = url.searchParams.get('$skiptoken');
    const deltaRaw = url.searchParams.get('$deltatoken');
    let walkId: string;
    let offset = 0;
    if (skip !== null) {
      const token = decodeToken(skip);
      if (!token || !('w' in token)) return graphError(400, 'BadRequest', 'Invalid skip token.');
      walkId = token.w;
      offset = token.o;
    } else {
      const windowStart = this.teams().now() - EIGHT_MONTHS_MS;
      const threads = [...channel.threads.values()];
      let walk: DeltaWalk;
      if (deltaRaw !== null) {
        const token = decodeToken(deltaRaw);
        if (!token || !('s' in token) || token.c !== channelKey) return graphError(400, 'BadRequest', 'Invalid delta token.');
        if (token.g < channel.tokenGeneration) return expired();
        const changed = threads.filter((t) => (token.mode === 'chains' ? t.chainSeq : t.root.seq) > token.s && (token.mode === 'chains' ? t.chainModified : t.root.lastModified) > windowStart);
        walk = { channelKey, rootIds: changed.map((t) => t.root.id), mode: token.mode, upToSeq: this.teams().currentSeq, generation: channel.tokenGeneration, since: token.s };
      } else {
        const filter = url.searchParams.get('$filter');
        let after: number | undefined;
        if (filter !== null) {
          // "Parameter 'Filter' not supported for this request" (microsoft-graph-docs#17270, #20728, microsoft-graph-docs-contrib#172).
          if (channel.refusesFilter) return graphError(400, 'BadRequest', "Parameter 'Filter' not supported for this request.");
          const f = /^lastModifiedDateTime gt (\S+)$/.exec(filter.trim());
          const time = f ? Date.parse(f[1] ?? '') : NaN;
          if (Number.isNaN(time)) return graphError(400, 'BadRequest', 'Only lastModifiedDateTime gt <time> is supported in $filter.');
          after = time;
        }
        const mode = after === undefined ? 'roots' : 'chains';
        const chosen = threads.filter((t) => {
          if (t.root.deleted !== null) return false;
          const modified = mode === 'chains' ? t.chainModified : t.root.lastModified;
          return modified > windowStart && (after === undefined || modified > after);
        });
        walk = { channelKey, rootIds: chosen.map((t) => t.root.id), mode, upToSeq: this.teams().currentSeq, generation: channel.tokenGeneration };
      }
      walkId = randomBytes(6).toString('hex');
      if (channel.emptyDeltaRefused && deltaRaw === null && threads.length === 0) walk.refusedNext = true;
      this.walks.set(walkId, walk);
    }
    const walk = this.walks.get(walkId);
    if (!walk || walk.channelKey !== channelKey) return graphError(400, 'BadRequest', 'Invalid skip token.');
    // An empty channel: an empty page with a nextLink, which then answers "Parameter 'DeltaToken' not supported"
    // (msgraph-beta-sdk-dotnet#243, microsoft-graph-docs#8864, #7382).
    if (walk.refusedNext) {
      if (skip !== null) return graphError(400, 'BadRequest', "Parameter 'DeltaToken' not supported for this request.");
      return { status: 200, body: { value: [], '@odata.nextLink': link('$skiptoken', { w: walkId, o: 0 }) } };
    }
    if (walk.generation < channel.tokenGeneration) return expired();
    const value = walk.rootIds.slice(offset, offset + top).flatMap((id): Json[] => {
      const thread = channel.threads.get(id);
      if (!thread) return [];
      if (thread.root.deleted !== null) return [{ '@odata.type': '#microsoft.graph.chatMessage', id, '@removed': { reason: 'deleted' } }];
      // The filtered round returns "reply chain (each channel post message and associated reply messages)"
      // (https://learn.microsoft.com/en-us/graph/api/chatmessage-delta); whether the replies come as items of their own,
      // with `replyToId`, is unsaid. With deltaRepliesAsItems the emulator does that worst case: the replies changed
      // since the token, after their root (or alone, for a chain whose root did not change).
      const replies =
        channel.deltaRepliesAsItems && walk.mode === 'chains'
          ? thread.replies.filter((r) => r.seq > (walk.since ?? -1)).map((r) => this.renderMessage(channel, r, preferUnknown))
          : [];
      const rootChanged = !channel.deltaRepliesAsItems || walk.since === undefined || thread.root.seq > walk.since;
      return [...(rootChanged ? [this.renderRoot(channel, thread, url, preferUnknown)] : []), ...replies];
    });
    const body: Json = { value };
    if (offset + top < walk.rootIds.length) body['@odata.nextLink'] = link('$skiptoken', { w: walkId, o: offset + top });
    else body['@odata.deltaLink'] = link('$deltatoken', { mode: walk.mode, s: walk.upToSeq, g: walk.generation, c: channelKey });
    return { status: 200, body };
  }

  private shares(shareId: string, url: URL): DownloadAnswer {
    if (!shareId.startsWith('u!')) return graphError(400, 'invalidRequest', 'Invalid sharing token.');
    const sharedUrl = Buffer.from(shareId.slice(2), 'base64url').toString();
    const itemId = this.teams().shared.get(sharedUrl);
    const item = itemId ? this.drives().item(itemId) : undefined;
    if (!item || item.deleted) return graphError(404, 'itemNotFound', 'The sharing link no longer exists, or you do not have permission to access it.');
    const json = renderItem(this.drives(), item, { inDelta: false });
    const fields = url.searchParams.get('$select');
    if (!fields) return { status: 200, body: json };
    const wanted = new Set(fields.split(','));
    return { status: 200, body: Object.fromEntries(Object.entries(json).filter(([k]) => wanted.has(k))) };
  }
}
