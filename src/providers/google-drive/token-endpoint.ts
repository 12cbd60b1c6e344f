import { SourceProtocolError } from '../../errors.js';
import type { Classifier, SourceHttp } from '../../http/source-http.js';

/**
 * Google's OAuth token endpoint (GOOGLE_OAUTH_TOKEN_URL), for both grants this
 * source uses. Its errors are RFC 6749 bodies (`{"error":"invalid_grant"}`),
 * not Drive's format, so they get their own classifier.
 */

export interface TokenGrant {
  accessToken: string;
  expiresAt: Date;
  /** Present when Google rotated the refresh token. */
  refreshToken?: string;
}

export type GrantKind = 'user' | 'service-account';

const USER_ADVICE = 'reconnect the Google account in EchoMind (the saved authorization was revoked or has expired)';
const SERVICE_ACCOUNT_ADVICE =
  'check GOOGLE_SERVICE_ACCOUNT_JSON, the server clock, and for impersonate_user that the user exists and the service account has domain-wide delegation for drive.readonly';

function readOAuthError(bodyText: string): string | undefined {
  try {
    const body = JSON.parse(bodyText) as { error?: unknown };
    return typeof body.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

export function classifyTokenError(kind: GrantKind): Classifier {
  const advice = kind === 'user' ? USER_ADVICE : SERVICE_ACCOUNT_ADVICE;
  return (response) => {
    const error = readOAuthError(response.bodyText);
    if (response.status >= 500 || response.status === 429) return undefined;
    switch (error) {
      case 'invalid_grant':
        return { kind: 'permanent', code: 'invalid_grant', scope: 'sync', message: `Google refused the grant; ${advice}` };
      case 'invalid_client':
      case 'unauthorized_client':
        return {
          kind: 'permanent',
          code: error,
          scope: 'sync',
          message:
            kind === 'user'
              ? 'Google does not accept the OAuth client id/secret stored with this account; reconnect the Google account in EchoMind'
              : `Google does not allow this service account the requested access; ${advice}`,
        };
      default:
        // A 400/401 from the token endpoint never heals by retrying.
        return { kind: 'permanent', code: error ?? `http${response.status}`, scope: 'sync', message: `the Google token endpoint refused the request; ${advice}` };
    }
  };
}

export async function requestToken(http: SourceHttp, tokenUrl: string, form: Record<string, string>): Promise<TokenGrant> {
  const response = await http.send(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form),
    authenticate: false,
  });
  // Parsed here rather than by http.json, whose error quotes the body: this body holds tokens.
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(await response.text()) as Record<string, unknown>;
  } catch {
    throw new SourceProtocolError(`the Google token endpoint answered ${response.status} with a body that is not JSON`);
  }
  if (typeof data !== 'object' || data === null) throw new SourceProtocolError('the Google token endpoint answered with a body that is not an object');
  const accessToken = data.access_token;
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw new SourceProtocolError('the Google token endpoint answered without an access_token');
  }
  const lifetime = typeof data.expires_in === 'number' ? data.expires_in : Number(data.expires_in ?? 3600);
  return {
    accessToken,
    expiresAt: new Date(Date.now() + (Number.isFinite(lifetime) ? lifetime : 3600) * 1000),
    ...(typeof data.refresh_token === 'string' && data.refresh_token !== '' ? { refreshToken: data.refresh_token } : {}),
  };
}
