import type { AccessTokenSource, ErrorVerdict, FailedResponse } from '../../http/source-http.js';
import { errorCode } from '../../errors.js';
import { readOAuthError, requestToken } from '../oauth.js';
import { fingerprint } from '../token-cache.js';
import type { SourceContext } from '../types.js';
import { adminConsentAdvice } from './errors.js';
import { type GraphIdentity, isTenantPlaceholder } from './identity.js';
import { GRAPH_USER_AGENT } from './user-agent.js';

/**
 * Access tokens for Microsoft Graph from the identity platform's token endpoint
 * (`POST {login}/{tenant}/oauth2/v2.0/token`), shared by every Graph source
 * (OneDrive, Teams). Tokens are held in the worker's token cache; Microsoft
 * rotates delegated refresh tokens, and the new one is written to
 * `connectors.config` before the access token that came with it is used, or
 * the next sync would present a token Microsoft has already retired.
 */

const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const DELEGATED_SCOPE = `offline_access ${GRAPH_SCOPE}`;

export const RECONNECT_MESSAGE =
  'Microsoft no longer accepts this connector\'s sign-in (the refresh token was revoked, expired or already used): reconnect the Microsoft account in EchoMind';

/**
 * App-only sign-in refused because the app was never consented to in that tenant: the app is not
 * in the tenant's directory (AADSTS700016), has no service principal there (AADSTS7000229), or
 * lacks consent (AADSTS65001). Only an administrator can fix these; a new sign-in cannot.
 */
const ADMIN_CONSENT_CODES = new Set(['AADSTS700016', 'AADSTS7000229', 'AADSTS65001']);

/**
 * Failures of the token endpoint. Only what retrying cannot fix is named;
 * throttling and 5xx keep the HTTP layer's defaults. Microsoft's descriptions
 * are long and carry trace ids: the AADSTS code is enough to look one up.
 */
export function classifyTokenError(failed: FailedResponse, identity?: Pick<GraphIdentity, 'kind' | 'clientId'>): ErrorVerdict | undefined {
  const { error, aadsts } = readOAuthError(failed.bodyText);
  const ref = aadsts ? ` (${aadsts})` : '';
  const refused = (message: string): ErrorVerdict => ({ kind: 'permanent', code: errorCode(error ?? `http${failed.status}`), scope: 'sync', message });
  if (identity?.kind === 'app' && aadsts !== undefined && ADMIN_CONSENT_CODES.has(aadsts)) {
    return refused(`Microsoft refused the app's sign-in${ref}: ${adminConsentAdvice(identity.clientId)}`);
  }
  switch (error) {
    case 'invalid_grant':
    case 'interaction_required':
    case 'consent_required':
      return refused(`${RECONNECT_MESSAGE}${ref}`);
    case 'invalid_client':
    case 'unauthorized_client':
      return refused(`Microsoft rejected the app credentials${ref}: check MS_GRAPH_CLIENT_ID / MS_GRAPH_CLIENT_SECRET or the connector's client_id / client_secret`);
    case 'invalid_scope':
    case 'invalid_request':
    case 'unsupported_grant_type':
      return refused(`Microsoft refused the token request${ref}`);
    case 'temporarily_unavailable':
      return { kind: 'retry', code: errorCode(error) };
    default:
      // Any other 4xx from the token endpoint will not fix itself, and without a token nothing syncs.
      if (failed.status >= 400 && failed.status < 500 && failed.status !== 408 && failed.status !== 429) {
        return refused(`Microsoft refused the token request${ref}`);
      }
      return undefined;
  }
}

/** App-only tokens belong to the app, so connectors sharing an app share them; delegated ones belong to the connector. */
export function signInKey(connectorId: number, identity: GraphIdentity): string {
  return identity.kind === 'app'
    ? `graph-app|${identity.tenantId}|${identity.clientId}|${fingerprint(identity.clientSecret)}`
    : `graph-delegated|${connectorId}|${identity.tenantId}|${identity.clientId}`;
}

export function graphTokenSource(ctx: SourceContext, identity: GraphIdentity, loginBaseUrl: string): AccessTokenSource {
  const http = ctx.makeHttp({ tenantKey: `login:${identity.tenantId}`, classify: (failed) => classifyTokenError(failed, identity), userAgent: GRAPH_USER_AGENT });
  const tokenUrl = `${loginBaseUrl}/${encodeURIComponent(identity.tenantId)}/oauth2/v2.0/token`;
  return ctx.memory.tokens.source({
    key: signInKey(ctx.connector.id, identity),
    ...(identity.kind === 'delegated' ? { refreshToken: identity.refreshToken } : {}),
    async request(refreshToken) {
      const form: Record<string, string> =
        identity.kind === 'app'
          ? { grant_type: 'client_credentials', client_id: identity.clientId, client_secret: identity.clientSecret, scope: GRAPH_SCOPE }
          : {
              grant_type: 'refresh_token',
              client_id: identity.clientId,
              refresh_token: refreshToken ?? identity.refreshToken,
              scope: DELEGATED_SCOPE,
              ...(identity.clientSecret !== undefined ? { client_secret: identity.clientSecret } : {}),
            };
      const grant = await requestToken(http, tokenUrl, form, 'the Microsoft token endpoint');
      // Which tenant a delegated sign-in through "organizations" or "common" belongs to: its pause is that tenant's (client.ts).
      if (isTenantPlaceholder(identity.tenantId)) ctx.memory.signedInTenants.learn(signInKey(ctx.connector.id, identity), grant.accessToken);
      return grant;
    },
    async save(grant) {
      if (grant.refreshToken === undefined) return;
      await ctx.credentials.updateConnectorConfig({ refresh_token: grant.refreshToken });
      ctx.logger.info({ connectorId: ctx.connector.id }, 'saved the rotated Microsoft refresh token');
    },
  });
}
