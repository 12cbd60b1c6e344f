import type { Config } from '../../config.js';
import { PermanentSourceError } from '../../errors.js';
import type { AccessTokenSource } from '../../http/source-http.js';
import type { GoogleCredential, SourceContext } from '../types.js';
import type { DriveConnectorConfig } from './drive-config.js';
import { JWT_BEARER_GRANT, loadServiceAccountKey, signAssertion } from './service-account.js';
import { CachedTokenSource } from './token-cache.js';
import { classifyTokenError, requestToken, type TokenGrant } from './token-endpoint.js';

/**
 * Which Google identity a connector syncs as, and its tokens. Either the user's
 * own OAuth grant (the `google_credentials` row, else tokens in the connector
 * config), or the service account, optionally acting as a Workspace user.
 */

export interface DriveIdentity {
  /** Names the identity in tenant keys and cache keys; never a secret. */
  label: string;
  tokens: AccessTokenSource;
}

function userCredentialsIn(row: GoogleCredential | null, config: DriveConnectorConfig): boolean {
  return Boolean(row?.refreshToken || row?.accessToken || config.oauth.refreshToken || config.oauth.accessToken);
}

export async function resolveDriveIdentity(
  ctx: SourceContext,
  settings: Config['google'],
  config: DriveConnectorConfig,
): Promise<DriveIdentity> {
  const hasServiceAccount = settings.serviceAccountJson.trim() !== '';
  const forcedServiceAccount = config.auth === 'service_account' || config.impersonate !== undefined;
  const row = forcedServiceAccount ? null : await ctx.credentials.loadGoogleCredential();
  const hasUser = userCredentialsIn(row, config);

  if (forcedServiceAccount || (config.auth !== 'oauth' && !hasUser && hasServiceAccount)) {
    if (!hasServiceAccount) {
      throw new PermanentSourceError(
        'this connector syncs as the service account (auth "service_account" or impersonate_user), but GOOGLE_SERVICE_ACCOUNT_JSON is not set on the connector service',
        'serviceAccountMissing',
        'sync',
      );
    }
    return serviceAccountIdentity(ctx, settings, config.impersonate);
  }
  if (!hasUser) {
    throw new PermanentSourceError(
      'no Google credentials for this connector: connect a Google account in EchoMind, or configure GOOGLE_SERVICE_ACCOUNT_JSON',
      'noCredentials',
      'sync',
    );
  }
  return userIdentity(ctx, settings, config, row);
}

async function serviceAccountIdentity(ctx: SourceContext, settings: Config['google'], subject: string | undefined): Promise<DriveIdentity> {
  const key = await loadServiceAccountKey(settings.serviceAccountJson);
  const label = `service-account:${key.clientEmail}${subject ? `:as:${subject}` : ''}`;
  const http = ctx.makeHttp({ tenantKey: 'google-oauth', classify: classifyTokenError('service-account') });
  const refresh = (): Promise<TokenGrant> =>
    requestToken(http, settings.oauthTokenUrl, {
      grant_type: JWT_BEARER_GRANT,
      assertion: signAssertion(key, { audience: settings.oauthTokenUrl, ...(subject ? { subject } : {}) }),
    });
  return { label, tokens: new CachedTokenSource(`${ctx.connector.id}|${label}`, undefined, refresh) };
}

function userIdentity(
  ctx: SourceContext,
  settings: Config['google'],
  config: DriveConnectorConfig,
  row: GoogleCredential | null,
): DriveIdentity {
  // The row is what EchoMind's OAuth flow keeps current; config tokens are the older place.
  const fromRow = Boolean(row?.refreshToken || row?.accessToken);
  const label = fromRow && row ? `google-credential:${row.id}` : `connector:${ctx.connector.id}`;
  let refreshToken = fromRow ? row?.refreshToken ?? undefined : config.oauth.refreshToken;
  const clientId = (fromRow ? row?.clientId : undefined) ?? config.oauth.clientId;
  const clientSecret = (fromRow ? row?.clientSecret : undefined) ?? config.oauth.clientSecret;
  const storedToken = fromRow ? row?.accessToken : config.oauth.accessToken;
  const storedExpiry = fromRow ? row?.expiresAt : config.oauth.accessTokenExpiresAt;
  const stored = storedToken && storedExpiry ? { accessToken: storedToken, expiresAt: storedExpiry } : undefined;
  const http = ctx.makeHttp({ tenantKey: 'google-oauth', classify: classifyTokenError('user') });

  const refresh = async (): Promise<TokenGrant> => {
    if (!refreshToken) {
      throw new PermanentSourceError(
        'the Google access token has expired and no refresh token is stored; reconnect the Google account in EchoMind',
        'invalid_grant',
        'sync',
      );
    }
    if (!clientId || !clientSecret) {
      throw new PermanentSourceError(
        'the stored Google credentials lack the OAuth client id or secret needed to refresh them; reconnect the Google account in EchoMind',
        'missingClient',
        'sync',
      );
    }
    const grant = await requestToken(http, settings.oauthTokenUrl, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
      client_secret: clientSecret,
    });
    if (grant.refreshToken) refreshToken = grant.refreshToken;
    // Saved before use, so the next sync (maybe on another worker) starts from the fresh token.
    if (fromRow) {
      await ctx.credentials.saveGoogleCredential({
        accessToken: grant.accessToken,
        expiresAt: grant.expiresAt,
        ...(grant.refreshToken ? { refreshToken: grant.refreshToken } : {}),
      });
    } else {
      await ctx.credentials.updateConnectorConfig({
        access_token: grant.accessToken,
        token_expires_at: grant.expiresAt.toISOString(),
        ...(grant.refreshToken ? { refresh_token: grant.refreshToken } : {}),
      });
    }
    return grant;
  };
  return { label, tokens: new CachedTokenSource(`${ctx.connector.id}|${label}`, stored, refresh) };
}
