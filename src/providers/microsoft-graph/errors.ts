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

interface InnerError {
  code?: unknown;
  innererror?: unknown;
  innerError?: unknown;
}

export function readGraphError(bodyText: string): { code?: string; message?: string; innerCodes: string[] } {
  try {
    const { error } = JSON.parse(bodyText) as GraphErrorBody;
    return {
      code: typeof error?.code === 'string' ? error.code : undefined,
      message: typeof error?.message === 'string' ? error.message.slice(0, 300) : undefined,
      innerCodes: innerCodesOf(error),
    };
  } catch {
    return { innerCodes: [] };
  }
}

/**
 * The codes of the nested `innererror` objects, most general first ("apps should loop through all
 * the error codes available and use the most detailed one that they understand": OneDrive's error
 * responses, https://learn.microsoft.com/en-us/onedrive/developer/rest-api/concepts/errors). Graph
 * spells the key `innerError` in v1.0 answers, OneDrive's page `innererror`: both are read.
 */
function innerCodesOf(error: unknown): string[] {
  const codes: string[] = [];
  let current = error as InnerError | undefined;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const inner = (current.innererror ?? current.innerError) as InnerError | undefined;
    if (typeof inner?.code === 'string') codes.push(inner.code);
    current = inner;
  }
  return codes;
}

/**
 * Refusals of a file's bytes that Graph documents as lasting (OneDrive's error codes, top-level or
 * in `innererror`, same page): asking again on every sync cannot help, so the file is skipped with
 * this reason until it changes. A bare `accessDenied`, or a pre-authenticated link's 401/403 (no
 * code; reported intermittent), stays a failure retried by later syncs.
 */
const WITHHELD_CONTENT: Readonly<Record<string, string>> = {
  accessRestricted: 'Microsoft restricts this file to its owner (accessRestricted): this connector may not download it',
  malwareDetected: 'Microsoft detected malware in this file and will not serve its bytes (malwareDetected)',
  virusSuspicious: 'Microsoft suspects a virus in this file and will not serve its bytes (virusSuspicious)',
};

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
  const { code, message, innerCodes } = readGraphError(failed.bodyText);
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
    case 403: {
      const withheld = scopeOf(failed.url) === 'item' ? [...innerCodes].reverse().concat(code ?? []).find((c) => c in WITHHELD_CONTENT) : undefined;
      if (withheld !== undefined) return { kind: 'withheld', code: withheld, message: WITHHELD_CONTENT[withheld] };
      return { kind: 'permanent', code: code ?? 'accessDenied', scope: scopeOf(failed.url), message };
    }
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
