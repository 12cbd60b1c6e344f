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

export function adminConsentAdvice(clientId: string): string {
  return `an administrator of the Microsoft tenant must grant admin consent to app ${clientId} (application permission Files.Read.All or Sites.Read.All; ChannelMessage.Read.All for Teams)`;
}

export function classifyGraphError(failed: FailedResponse, signIn: { kind: SignInKind; clientId: string } = { kind: 'delegated', clientId: '' }): ErrorVerdict | undefined {
  const { code, message } = readGraphError(failed.bodyText);
  // The delta token is dead: 410 (resyncRequired, resyncChangesApplyDifferences, resyncChangesUploadDifferences),
  // or 400 on a delta link for a token Graph cannot read. Start the enumeration again.
  if (failed.status === 410 || (isDeltaLink(failed.url) && failed.status === 400)) {
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
      return { kind: 'not-found', code: code ?? 'itemNotFound', message };
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
