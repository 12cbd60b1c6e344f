import type { Config } from '../../config.js';
import { errorCode, PermanentSourceError } from '../../errors.js';
import type { AccessTokenSource, Classifier, ErrorVerdict } from '../../http/source-http.js';
import { readOAuthError, requestToken, type TokenGrant } from '../oauth.js';
import type { SourceContext } from '../types.js';
import type { DriveConnectorConfig } from './config.js';
import type { GoogleCredential, GoogleCredentialStore } from './credentials.js';
import { JWT_BEARER_GRANT, signAssertion } from './service-account.js';

/**
 * Which Google identity a connector syncs as, and its tokens. Either the user's
 * own OAuth grant (the `google_credentials` row, else tokens in the connector
 * config), or the service account, optionally acting as a Workspace user.
 * Tokens are held in the worker's token cache and saved back where the next
 * sync reads them.
 */

export interface DriveIdentity {
  /** Names the identity in tenant keys and cache keys; never a secret. */
  label: string;
  tokens: AccessTokenSource;
}

type GrantKind = 'user' | 'service-account';

const USER_ADVICE = 'reconnect the Google account in EchoMind (the saved authorization was revoked or has expired)';
const SERVICE_ACCOUNT_ADVICE =
  'check GOOGLE_SERVICE_ACCOUNT_JSON, the server clock, and for impersonate_user that the user exists and the service account has domain-wide delegation for drive.readonly';

/** Failures of Google's token endpoint (RFC 6749 bodies, not Drive's format). */
export function classifyTokenError(kind: GrantKind): Classifier {
  const advice = kind === 'user' ? USER_ADVICE : SERVICE_ACCOUNT_ADVICE;
  return (response): ErrorVerdict | undefined => {
    if (response.status >= 500 || response.status === 429) return undefined;
    const { error } = readOAuthError(response.bodyText);
    const refused = (message: string): ErrorVerdict => ({ kind: 'permanent', code: errorCode(error ?? `http${response.status}`), scope: 'sync', message });
    switch (error) {
      case 'invalid_grant':
        return refused(`Google refused the grant; ${advice}`);
      case 'invalid_client':
      case 'unauthorized_client':
        return refused(
          kind === 'user'
            ? 'Google does not accept the OAuth client id/secret stored with this account; reconnect the Google account in EchoMind'
            : `Google does not allow this service account the requested access; ${advice}`,
        );
      default:
        // A 400/401 from the token endpoint never heals by retrying.
        return refused(`the Google token endpoint refused the request; ${advice}`);
    }
  };
}

/** Scopes that read every file the user can open; `drive.file` sees only what this app created or was handed. */
const READ_ALL_SCOPES = ['https://www.googleapis.com/auth/drive.readonly', 'https://www.googleapis.com/auth/drive'];

/**
 * Checked before the first Drive call: with only `drive.file` (or `drive.metadata…`),
 * files.list answers 200 with almost nothing, and the sync would "succeed" empty.
 */
function checkGrantedScopes(row: GoogleCredential): void {
  const granted = row.grantedScopes;
  if (!granted || granted.length === 0) return; // not recorded: Drive's own 403 insufficientPermissions speaks if it must
  if (granted.some((scope) => READ_ALL_SCOPES.includes(scope))) return;
  throw new PermanentSourceError(
    `the Google account was connected without read access to Drive (it granted only ${granted.join(', ')}); reconnect the Google account in EchoMind and allow "See and download all your Google Drive files" (drive.readonly)`,
    'insufficientScopes',
    'sync',
  );
}

function userCredentialsIn(row: GoogleCredential | null, config: DriveConnectorConfig): boolean {
  return Boolean(row?.refreshToken || row?.accessToken || config.oauth.refreshToken || config.oauth.accessToken);
}

export async function resolveDriveIdentity(
  ctx: SourceContext,
  settings: Config['google'],
  config: DriveConnectorConfig,
  credentials: GoogleCredentialStore,
): Promise<DriveIdentity> {
  const hasServiceAccount = settings.serviceAccountJson.trim() !== '';
  const forcedServiceAccount = config.auth === 'service_account' || config.impersonate !== undefined;
  const row = forcedServiceAccount ? null : await credentials.load(ctx.connector);
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
  return userIdentity(ctx, settings, config, row, credentials);
}

async function serviceAccountIdentity(ctx: SourceContext, settings: Config['google'], subject: string | undefined): Promise<DriveIdentity> {
  const key = await ctx.memory.serviceAccountKeys.load(settings.serviceAccountJson);
  const label = `service-account:${key.clientEmail}${subject ? `:as:${subject}` : ''}`;
  const http = ctx.makeHttp({ tenantKey: 'google-oauth', classify: classifyTokenError('service-account') });
  const tokens = ctx.memory.tokens.source({
    key: `google|${ctx.connector.id}|${label}`,
    request: () =>
      requestToken(
        http,
        settings.oauthTokenUrl,
        { grant_type: JWT_BEARER_GRANT, assertion: signAssertion(key, { audience: settings.oauthTokenUrl, ...(subject ? { subject } : {}) }) },
        'the Google token endpoint',
      ),
  });
  return { label, tokens };
}

function userIdentity(
  ctx: SourceContext,
  settings: Config['google'],
  config: DriveConnectorConfig,
  row: GoogleCredential | null,
  credentials: GoogleCredentialStore,
): DriveIdentity {
  // The row is what EchoMind's OAuth flow keeps current; config tokens are the older place.
  const fromRow = row !== null && Boolean(row.refreshToken || row.accessToken);
  if (fromRow) checkGrantedScopes(row);
  const label = fromRow ? `google-credential:${row.id}` : `connector:${ctx.connector.id}`;
  const refreshToken = (fromRow ? row.refreshToken : config.oauth.refreshToken) ?? undefined;
  const clientId = (fromRow ? row.clientId : undefined) ?? config.oauth.clientId;
  const clientSecret = (fromRow ? row.clientSecret : undefined) ?? config.oauth.clientSecret;
  const storedToken = fromRow ? row.accessToken : config.oauth.accessToken;
  const storedExpiry = fromRow ? row.expiresAt : config.oauth.accessTokenExpiresAt;
  const http = ctx.makeHttp({ tenantKey: 'google-oauth', classify: classifyTokenError('user') });

  const tokens = ctx.memory.tokens.source({
    key: `google|${ctx.connector.id}|${label}`,
    ...(refreshToken ? { refreshToken } : {}),
    ...(storedToken && storedExpiry ? { stored: { accessToken: storedToken, expiresAt: storedExpiry } } : {}),
    request(newest): Promise<TokenGrant> {
      if (!newest) {
        throw new PermanentSourceError(
          'the Google access token has expired and no refresh token is stored; reconnect the Google account in EchoMind',
          'invalidGrant',
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
      return requestToken(
        http,
        settings.oauthTokenUrl,
        { grant_type: 'refresh_token', refresh_token: newest, client_id: clientId, client_secret: clientSecret },
        'the Google token endpoint',
      );
    },
    // Saved before use, so the next sync (maybe on another worker) starts from the fresh token.
    save: (grant) =>
      fromRow
        ? credentials.save(ctx.connector, grant)
        : ctx.credentials.updateConnectorConfig({
            access_token: grant.accessToken,
            token_expires_at: grant.expiresAt.toISOString(),
            ...(grant.refreshToken ? { refresh_token: grant.refreshToken } : {}),
          }),
  });
  return { label, tokens };
}
