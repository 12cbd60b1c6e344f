import { createHash } from 'node:crypto';
import { SourceProtocolError } from '../../errors.js';
import type { AccessTokenSource } from '../../http/source-http.js';
import type { SourceContext } from '../types.js';
import type { GraphIdentity } from './identity.js';
import { classifyTokenError } from './token-errors.js';

/**
 * Access tokens for Microsoft Graph from the identity platform's token endpoint
 * (`POST {login}/{tenant}/oauth2/v2.0/token`), through the shared HTTP layer.
 *
 * Tokens are kept in this process until shortly before they expire, so the
 * many short activities of one sync do not each sign in. Microsoft rotates
 * delegated refresh tokens: the new one is written to `connectors.config`
 * before the access token that came with it is used, or the next sync would
 * present a token Microsoft has already retired.
 */

const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const DELEGATED_SCOPE = `offline_access ${GRAPH_SCOPE}`;
/** Stop using a token this long before it expires (or at half its life, if shorter). */
const EARLY_REFRESH_MS = 5 * 60_000;
/** Microsoft always says; this only guards against an answer without `expires_in`. */
const ASSUMED_LIFETIME_S = 3600;

interface HeldToken {
  accessToken: string;
  refreshAt: number;
  /** Delegated: the newest refresh token we hold. */
  refreshToken?: string;
  /** Delegated: fingerprints of the refresh tokens this one descends from (the connector row holds one of them). */
  lineage: ReadonlySet<string>;
  /** Delegated: the newest refresh token is in `connectors.config`. */
  saved: boolean;
}

const held = new Map<string, HeldToken>();
const pending = new Map<string, Promise<HeldToken>>();

/** Drops every cached token (tests; a worker never needs to). */
export function forgetGraphTokens(): void {
  held.clear();
  pending.clear();
}

/** A short digest, so a cache key or lineage never holds a secret in clear. */
const fingerprint = (secret: string) => createHash('sha256').update(secret).digest('base64url').slice(0, 22);

function cacheKey(connectorId: number, identity: GraphIdentity): string {
  // App-only tokens belong to the app, so connectors sharing an app share them.
  return identity.kind === 'app'
    ? `app|${identity.tenantId}|${identity.clientId}|${fingerprint(identity.clientSecret)}`
    : `delegated|${connectorId}|${identity.tenantId}|${identity.clientId}`;
}

interface TokenAnswer {
  access_token?: unknown;
  expires_in?: unknown;
  refresh_token?: unknown;
}

export class GraphTokenSource implements AccessTokenSource {
  private readonly key: string;

  constructor(
    private readonly ctx: SourceContext,
    private readonly identity: GraphIdentity,
    private readonly loginBaseUrl: string,
  ) {
    this.key = cacheKey(ctx.connector.id, identity);
  }

  async getAccessToken(forceRefresh: boolean): Promise<string> {
    const current = this.currentToken();
    if (current && !current.saved) await this.saveRefreshToken(current);
    if (!forceRefresh && current && current.refreshAt > Date.now()) return current.accessToken;
    let request = pending.get(this.key);
    if (!request) {
      request = this.requestToken(current).finally(() => pending.delete(this.key));
      pending.set(this.key, request);
    }
    return (await request).accessToken;
  }

  /** The held token, if it was issued for this identity (a reconnected account starts a new lineage). */
  private currentToken(): HeldToken | undefined {
    const token = held.get(this.key);
    if (!token || this.identity.kind === 'app') return token;
    return token.lineage.has(fingerprint(this.identity.refreshToken)) ? token : undefined;
  }

  private async requestToken(current: HeldToken | undefined): Promise<HeldToken> {
    const identity = this.identity;
    const form = new URLSearchParams({ client_id: identity.clientId });
    let grant: string | undefined;
    if (identity.kind === 'app') {
      form.set('grant_type', 'client_credentials');
      form.set('client_secret', identity.clientSecret);
      form.set('scope', GRAPH_SCOPE);
    } else {
      grant = current?.refreshToken ?? identity.refreshToken;
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', grant);
      form.set('scope', DELEGATED_SCOPE);
      if (identity.clientSecret !== undefined) form.set('client_secret', identity.clientSecret);
    }

    const http = this.ctx.makeHttp({ tenantKey: `login:${identity.tenantId}`, classify: classifyTokenError });
    const url = `${this.loginBaseUrl}/${encodeURIComponent(identity.tenantId)}/oauth2/v2.0/token`;
    const { data } = await http.json<TokenAnswer>(url, { method: 'POST', body: form, authenticate: false, signal: this.ctx.signal });
    if (typeof data !== 'object' || data === null || typeof data.access_token !== 'string' || data.access_token === '') {
      throw new SourceProtocolError('the Microsoft token endpoint answered without an access_token');
    }
    const lifetimeMs = (Number(data.expires_in) || ASSUMED_LIFETIME_S) * 1000;
    const rotated = typeof data.refresh_token === 'string' && data.refresh_token !== '' && data.refresh_token !== grant ? data.refresh_token : undefined;
    const token: HeldToken = {
      accessToken: data.access_token,
      refreshAt: Date.now() + lifetimeMs - Math.min(EARLY_REFRESH_MS, lifetimeMs / 2),
      refreshToken: rotated ?? grant,
      lineage: new Set(
        [identity.kind === 'delegated' ? identity.refreshToken : undefined, grant, rotated]
          .filter((t): t is string => t !== undefined)
          .map(fingerprint),
      ),
      saved: rotated === undefined,
    };
    // Held before it is saved: if the write fails, the retry still knows the token Microsoft now expects.
    held.set(this.key, token);
    if (rotated !== undefined) await this.saveRefreshToken(token);
    return token;
  }

  private async saveRefreshToken(token: HeldToken): Promise<void> {
    await this.ctx.credentials.updateConnectorConfig({ refresh_token: token.refreshToken });
    token.saved = true;
    this.ctx.logger.info({ connectorId: this.ctx.connector.id }, 'saved the rotated Microsoft refresh token');
  }
}
