import { SourceProtocolError } from '../errors.js';
import type { SourceHttp } from '../http/source-http.js';

/**
 * What every source's OAuth 2 token endpoint has in common (RFC 6749): a form
 * POST answered with `{access_token, expires_in, refresh_token?}`, or an error
 * body `{"error": "invalid_grant", …}`. Microsoft's identity platform and
 * Google's token endpoint both speak it; each source only words the advice.
 */

export interface TokenGrant {
  accessToken: string;
  expiresAt: Date;
  /** Present when the endpoint sent a refresh token (new, or rotated). */
  refreshToken?: string;
}

/** Providers that send no `expires_in` (none should): an hour, the usual lifetime. */
const ASSUMED_LIFETIME_S = 3600;
/** A token answer is a few kilobytes; one longer than this is not one we read (it fails as not JSON). */
const TOKEN_BODY_MAX_BYTES = 1024 * 1024;

export interface OAuthError {
  /** RFC 6749 `error`, e.g. `invalid_grant`. */
  error?: string;
  /** Microsoft's first `error_codes` entry as `AADSTS<n>`: enough to look an error up, free of trace ids. */
  aadsts?: string;
}

/** Reads an OAuth error body; `{}` when the body is not one. Never returns `error_description`, which may quote what was sent. */
export function readOAuthError(bodyText: string): OAuthError {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return {};
  }
  if (typeof body !== 'object' || body === null) return {};
  const { error, error_codes: codes } = body as { error?: unknown; error_codes?: unknown };
  const first: unknown = Array.isArray(codes) ? codes[0] : undefined;
  return {
    ...(typeof error === 'string' && error !== '' ? { error } : {}),
    ...(typeof first === 'number' ? { aadsts: `AADSTS${first}` } : {}),
  };
}

/**
 * POSTs `form` to a token endpoint through the shared HTTP layer (which
 * classifies failures with the source's classifier). The answer is parsed
 * here rather than by `http.json`, whose error quotes the body: this body
 * holds tokens.
 */
export async function requestToken(http: SourceHttp, tokenUrl: string, form: Record<string, string>, endpoint: string): Promise<TokenGrant> {
  const response = await http.send(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form),
    authenticate: false,
  });
  let data: unknown;
  try {
    data = JSON.parse(await response.text(TOKEN_BODY_MAX_BYTES));
  } catch {
    throw new SourceProtocolError(`${endpoint} answered ${response.status} with a body that is not JSON`);
  }
  if (typeof data !== 'object' || data === null) throw new SourceProtocolError(`${endpoint} answered with a body that is not an object`);
  const { access_token: accessToken, expires_in: expiresIn, refresh_token: refreshToken } = data as Record<string, unknown>;
  if (typeof accessToken !== 'string' || accessToken === '') throw new SourceProtocolError(`${endpoint} answered without an access_token`);
  const lifetime = Number(expiresIn ?? ASSUMED_LIFETIME_S);
  return {
    accessToken,
    expiresAt: new Date(Date.now() + (Number.isFinite(lifetime) && lifetime > 0 ? lifetime : ASSUMED_LIFETIME_S) * 1000),
    ...(typeof refreshToken === 'string' && refreshToken !== '' ? { refreshToken } : {}),
  };
}
