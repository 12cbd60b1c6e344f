import type { Classifier, ErrorVerdict, FailedResponse } from '../../http/source-http.js';
import { parseRetryAfter, parseRetryAfterInMessage } from '../../http/retry-after.js';

/**
 * How Drive's failures map onto the shared HTTP layer. Drive says most of what
 * matters in `error.errors[0].reason` (v3) or an ErrorInfo `reason` (newer
 * format), and a 403 means anything from "slow down" to "never for this file".
 */

export interface GoogleErrorInfo {
  reason?: string;
  message?: string;
  location?: string;
}

interface GoogleErrorBody {
  error?: {
    message?: string;
    errors?: Array<{ reason?: string; message?: string; location?: string }>;
    details?: Array<{ reason?: string }>;
  };
}

export function readGoogleError(bodyText: string): GoogleErrorInfo {
  let body: GoogleErrorBody;
  try {
    body = JSON.parse(bodyText) as GoogleErrorBody;
  } catch {
    return {};
  }
  if (typeof body !== 'object' || body === null || typeof body.error !== 'object' || body.error === null) return {};
  const first = Array.isArray(body.error.errors) ? body.error.errors[0] : undefined;
  const detail = Array.isArray(body.error.details) ? body.error.details.find((d) => typeof d?.reason === 'string') : undefined;
  const info: GoogleErrorInfo = {};
  const reason = first?.reason ?? detail?.reason;
  const message = body.error.message ?? first?.message;
  if (typeof reason === 'string') info.reason = reason;
  if (typeof message === 'string') info.message = message;
  if (typeof first?.location === 'string') info.location = first.location;
  return info;
}

const RATE_LIMIT_REASONS: ReadonlySet<string> = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);

/** Per-file refusals: this file will not come, the rest of the sync goes on. */
const ITEM_REASONS: Readonly<Record<string, string>> = {
  downloadQuotaExceeded: 'the file was downloaded too often recently (Google download quota); it is fetched again when it changes or on a full resync',
  cannotDownloadAbusiveFile: 'Google flagged the file as malware or abuse and refuses to hand it out',
  exportSizeLimitExceeded: 'the export is over the 10 MB limit of files.export',
  cannotExportFile: 'the owner does not allow this file to be exported',
  cannotDownloadFile: 'download restricted: the owner or an admin does not allow this identity to download the file',
  fileNotDownloadable: 'the file has no binary content to download',
  insufficientFilePermissions: 'the identity may not read this file',
  appNotAuthorizedToFile: 'the app is not authorized for this file',
};

/** Failures that will hit every request of the sync, with what a person should do. */
const SYNC_REASONS: Readonly<Record<string, string>> = {
  dailyLimitExceeded:
    "Google Drive's daily API quota for this project is used up; it resets at midnight Pacific time, and the next sync resumes from the saved cursor",
  insufficientPermissions: 'the token lacks the drive.readonly scope; reconnect the Google account granting Drive access',
  accessNotConfigured: 'the Drive API is not enabled for the Google Cloud project of these credentials',
  domainPolicy: "the Workspace domain's policy does not allow this app to use Drive",
};

function retryAfterMs(response: FailedResponse, message: string | undefined): number | undefined {
  return parseRetryAfter(response.headers.get('retry-after')) ?? parseRetryAfterInMessage(message);
}

function isChangesList(url: string): boolean {
  try {
    return new URL(url).pathname.endsWith('/changes');
  } catch {
    return false;
  }
}

function isPageTokenError(info: GoogleErrorInfo): boolean {
  return info.location === 'pageToken' || /page ?token/i.test(info.message ?? '');
}

export const classifyDriveError: Classifier = (response): ErrorVerdict | undefined => {
  const info = readGoogleError(response.bodyText);
  const { status } = response;
  const code = info.reason;
  const withHint = (verdict: ErrorVerdict): ErrorVerdict => {
    const hinted = retryAfterMs(response, info.message);
    return hinted === undefined ? verdict : { ...verdict, retryAfterMs: hinted };
  };

  if (status === 401) return { kind: 'unauthorized', code: code ?? 'authError' };
  if (status === 429 || (status === 403 && code !== undefined && RATE_LIMIT_REASONS.has(code))) {
    return withHint({ kind: 'throttle', code: code ?? 'rateLimitExceeded' });
  }
  if (status >= 500) return withHint({ kind: status === 503 ? 'throttle' : 'retry', code: code ?? `http${status}` });
  const rejectedToken: ErrorVerdict = {
    kind: 'expired-cursor',
    code: 'invalidPageToken',
    message: `Google Drive rejected the saved ${isChangesList(response.url) ? 'changes' : 'folder listing'} page token; the source is enumerated again`,
  };
  if (status === 400 && isPageTokenError(info)) return rejectedToken;
  // changes.list with a saved token: Google says a rejected token, for any reason, is discarded and the listing restarted.
  if (isChangesList(response.url) && (status === 400 || status === 404 || status === 410)) return rejectedToken;
  if (status === 404) return { kind: 'not-found', code: 'notFound' };
  if (code !== undefined && SYNC_REASONS[code]) return { kind: 'permanent', code, scope: 'sync', message: SYNC_REASONS[code] };
  if (code !== undefined && ITEM_REASONS[code]) return { kind: 'permanent', code, scope: 'item', message: ITEM_REASONS[code] };
  if (status === 403) return { kind: 'permanent', code: code ?? 'forbidden', scope: 'item', message: 'Google Drive refused access to this item' };
  return undefined;
};
