import type { ErrorVerdict, FailedResponse } from '../../http/source-http.js';

/**
 * Classifies Microsoft Graph failures (`{"error":{"code":"…","message":"…"}}`)
 * for the shared HTTP layer, which does the waiting, retrying and token refresh.
 * Graph's own error code and message go into the verdict so a user reads
 * `accessDenied: …` rather than a bare status.
 */

interface GraphErrorBody {
  error?: { code?: unknown; message?: unknown };
}

export function readGraphError(bodyText: string): { code?: string; message?: string } {
  try {
    const { error } = JSON.parse(bodyText) as GraphErrorBody;
    return {
      code: typeof error?.code === 'string' ? error.code : undefined,
      message: typeof error?.message === 'string' ? error.message.slice(0, 300) : undefined,
    };
  } catch {
    return {};
  }
}

/**
 * A refusal on one file's bytes stops that file; a refusal on a listing or on
 * the drive itself means the sync cannot see what it must, so it stops the sync.
 */
function scopeOf(url: string): 'item' | 'sync' {
  return /\/content$/.test(url) ? 'item' : 'sync';
}

function isDeltaLink(url: string): boolean {
  return /\/delta$/.test(url);
}

/** Who the connector signs in as: an app-only token lacking permissions needs an administrator, not a new sign-in. */
export type SignInKind = 'app' | 'delegated';

/** The machine code of a download the redirect target refused (see classifyGraphError). */
export const DOWNLOAD_REFUSED = 'downloadRefused';

export function adminConsentAdvice(clientId: string): string {
  return `an administrator of the Microsoft tenant must grant admin consent to app ${clientId} (application permission Files.Read.All or Sites.Read.All; ChannelMessage.Read.All for Teams)`;
}

export function classifyGraphError(failed: FailedResponse, signIn: { kind: SignInKind; clientId: string } = { kind: 'delegated', clientId: '' }): ErrorVerdict | undefined {
  const { code, message } = readGraphError(failed.bodyText);
  // `/content` redirects to a pre-authenticated URL (SharePoint's download.aspx?tempauth=…) that sometimes
  // refuses one file with 401 or 403 (msgraph-sdk-dotnet#3057, onedrive-api-docs#1686, #640, #189;
  // microsoft-graph-docs#2455, #2458). Our Graph token never went there: that file fails, the token is fine.
  if (failed.redirected && (failed.status === 401 || failed.status === 403)) {
    return { kind: 'permanent', code: DOWNLOAD_REFUSED, scope: 'item', message: `the download link answered ${failed.status}${code ? ` (${code})` : ''}` };
  }
  // A delta link Graph refuses (410 resyncRequired, or 400 for a token it cannot read): start the enumeration again.
  if (isDeltaLink(failed.url) && (failed.status === 400 || failed.status === 410)) {
    return { kind: 'expired-cursor', code: code ?? 'resyncRequired', message };
  }
  switch (failed.status) {
    case 401:
      // An app-only token without application permissions ("Either scp or roles claim need to be present
      // in the token"): a fresh token helps only once an administrator has consented.
      return {
        kind: 'unauthorized',
        code: code ?? 'InvalidAuthenticationToken',
        message,
        ...(signIn.kind === 'app' ? { advice: adminConsentAdvice(signIn.clientId) } : {}),
      };
    case 403:
      return { kind: 'permanent', code: code ?? 'accessDenied', scope: scopeOf(failed.url), message };
    case 404:
      return { kind: 'not-found', code: code ?? 'itemNotFound', scope: 'item', message };
    case 410:
      // resyncRequired, resyncChangesApplyDifferences, resyncChangesUploadDifferences: the delta token is dead.
      return { kind: 'expired-cursor', code: code ?? 'resyncRequired', message };
    case 423:
      return { kind: 'retry', code: code ?? 'resourceLocked', message };
    case 429:
    case 503:
      return { kind: 'throttle', code: code ?? (failed.status === 429 ? 'tooManyRequests' : 'serviceNotAvailable'), message };
    case 507:
      return { kind: 'permanent', code: code ?? 'insufficientStorage', scope: 'sync', message };
  }
  if (failed.status >= 500) return { kind: 'retry', code, message };
  if (failed.status >= 400) return { kind: 'permanent', code: code ?? `http${failed.status}`, scope: scopeOf(failed.url), message };
  return undefined;
}
