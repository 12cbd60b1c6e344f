import type { ErrorVerdict, FailedResponse } from '../../http/source-http.js';

/**
 * Classifies failures of the Microsoft identity token endpoint, whose bodies are
 * OAuth 2 errors (`{"error":"invalid_grant","error_description":"AADSTS…"}`).
 * Only failures that retrying cannot fix are named; throttling and 5xx keep the
 * HTTP layer's defaults.
 */

interface OAuthErrorBody {
  error?: unknown;
  error_codes?: unknown;
}

function readOAuthError(bodyText: string): { error?: string; aadsts?: string } {
  try {
    const body = JSON.parse(bodyText) as OAuthErrorBody;
    const code = Array.isArray(body.error_codes) && typeof body.error_codes[0] === 'number' ? body.error_codes[0] : undefined;
    return {
      error: typeof body.error === 'string' ? body.error : undefined,
      aadsts: code === undefined ? undefined : `AADSTS${code}`,
    };
  } catch {
    return {};
  }
}

export const RECONNECT_MESSAGE =
  'Microsoft no longer accepts this connector\'s sign-in (the refresh token was revoked, expired or already used): reconnect the Microsoft account in EchoMind';

// The descriptions Microsoft sends can be long and carry trace ids; the AADSTS code is enough to look an error up.
export function classifyTokenError(failed: FailedResponse): ErrorVerdict | undefined {
  const { error, aadsts } = readOAuthError(failed.bodyText);
  const ref = aadsts ? ` (${aadsts})` : '';
  switch (error) {
    case 'invalid_grant':
    case 'interaction_required':
    case 'consent_required':
      return { kind: 'permanent', code: error, scope: 'sync', message: `${RECONNECT_MESSAGE}${ref}` };
    case 'invalid_client':
    case 'unauthorized_client':
      return {
        kind: 'permanent',
        code: error,
        scope: 'sync',
        message: `Microsoft rejected the app credentials${ref}: check MS_GRAPH_CLIENT_ID / MS_GRAPH_CLIENT_SECRET or the connector's client_id / client_secret`,
      };
    case 'invalid_scope':
    case 'invalid_request':
    case 'unsupported_grant_type':
      return { kind: 'permanent', code: error, scope: 'sync', message: `Microsoft refused the token request${ref}` };
    case 'temporarily_unavailable':
      return { kind: 'retry', code: error };
    default:
      // Any other 4xx from the token endpoint will not fix itself, and without a token nothing syncs.
      if (failed.status >= 400 && failed.status < 500 && failed.status !== 408 && failed.status !== 429) {
        return { kind: 'permanent', code: error ?? `http${failed.status}`, scope: 'sync', message: `Microsoft refused the token request${ref}` };
      }
      return undefined;
  }
}
