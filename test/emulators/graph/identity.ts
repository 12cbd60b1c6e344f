import { randomBytes } from 'node:crypto';

/**
 * The Microsoft identity platform's token endpoint, as far as a connector
 * meets it: client credentials and refresh-token grants, client secrets
 * checked, refresh tokens rotated on every use (the old one then answers
 * `invalid_grant`), access tokens that expire.
 */

export interface EmulatedClient {
  secret?: string;
  tenantId: string;
  /**
   * False: no administrator consented to the app's application permissions. The token endpoint still
   * issues client-credentials tokens, without a `roles` claim, and Graph refuses them with 401
   * "Either scp or roles claim need to be present in the token" (pnp/cli-microsoft365#2578, where the
   * missing admin consent was the cause; MicrosoftDocs/azure-docs#50935).
   */
  adminConsented?: boolean;
}

export interface AccessGrant {
  clientId: string;
  /** Set for delegated tokens: whose `/me` it is. */
  userId?: string;
  /** An app-only token without application permissions (see EmulatedClient.adminConsented). */
  withoutRoles?: boolean;
  expiresAt: number;
}

export interface TokenRequestRecord {
  tenant: string;
  grantType: string;
  clientId: string;
  /** The OAuth error returned, if any. */
  error?: string;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

const GRAPH_DEFAULT_SCOPE = 'https://graph.microsoft.com/.default';

function oauthError(status: number, error: string, aadsts: number, description: string): TokenAnswer {
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${aadsts}: ${description} Trace ID: 00000000-0000-0000-0000-000000000000`,
      error_codes: [aadsts],
      timestamp: new Date().toISOString(),
    },
  };
}

export class IdentityEmulator {
  readonly clients = new Map<string, EmulatedClient>();
  /** Lifetime of the access tokens issued from now on. */
  accessTokenTtlSeconds = 3600;
  /** Whether a refresh-token grant returns a new refresh token and retires the old one. */
  rotateRefreshTokens = true;
  readonly tokenRequests: TokenRequestRecord[] = [];
  private readonly refreshTokens = new Map<string, { clientId: string; userId: string; userTenant: string; state: 'active' | 'used' | 'revoked' }>();
  private readonly accessTokens = new Map<string, AccessGrant>();

  registerClient(clientId: string, client: EmulatedClient): void {
    this.clients.set(clientId, client);
  }

  /**
   * A refresh token as EchoMind's OAuth flow would have stored it. `userTenant`: the user's home
   * tenant (default: the app's own), for a multi-tenant app signed in to by another organisation.
   */
  issueRefreshToken(clientId: string, userId: string, options: { userTenant?: string } = {}): string {
    const token = `rt-${randomBytes(12).toString('hex')}`;
    const userTenant = options.userTenant ?? this.clients.get(clientId)?.tenantId ?? '';
    this.refreshTokens.set(token, { clientId, userId, userTenant, state: 'active' });
    return token;
  }

  revokeRefreshToken(token: string): void {
    const record = this.refreshTokens.get(token);
    if (record) record.state = 'revoked';
  }

  refreshTokenState(token: string): 'active' | 'used' | 'revoked' | 'unknown' {
    return this.refreshTokens.get(token)?.state ?? 'unknown';
  }

  /** Every access token issued so far stops working (as after an hour, or a password reset). */
  expireAccessTokens(): void {
    for (const grant of this.accessTokens.values()) grant.expiresAt = 0;
  }

  /** The grant behind a bearer header, or why there is none. */
  authenticate(authorization: string | undefined): AccessGrant | { error: string } {
    const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
    if (!token) return { error: 'Access token is empty.' };
    const grant = this.accessTokens.get(token);
    if (!grant) return { error: 'IDX14100: JWT is not well formed.' };
    if (grant.expiresAt <= Date.now()) return { error: 'Lifetime validation failed, the token is expired.' };
    if (grant.withoutRoles) return { error: 'Either scp or roles claim need to be present in the token.' };
    return grant;
  }

  answer(tenant: string, form: URLSearchParams): TokenAnswer {
    const grantType = form.get('grant_type') ?? '';
    const clientId = form.get('client_id') ?? '';
    const result = this.decide(tenant, grantType, clientId, form);
    this.tokenRequests.push({ tenant, grantType, clientId, error: typeof result.body.error === 'string' ? result.body.error : undefined });
    return result;
  }

  reset(): void {
    this.refreshTokens.clear();
    this.accessTokens.clear();
    this.tokenRequests.length = 0;
    this.accessTokenTtlSeconds = 3600;
    this.rotateRefreshTokens = true;
  }

  private decide(tenant: string, grantType: string, clientId: string, form: URLSearchParams): TokenAnswer {
    const client = this.clients.get(clientId);
    if (!client) return oauthError(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory.`);
    const delegatedTenant = tenant === 'common' || tenant === 'organizations';
    const usersTenant = grantType === 'refresh_token' && this.refreshTokens.get(form.get('refresh_token') ?? '')?.userTenant === tenant;
    if (tenant !== client.tenantId && !(grantType === 'refresh_token' && (delegatedTenant || usersTenant))) {
      return oauthError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
    }
    const secret = form.get('client_secret');
    if (client.secret !== undefined && secret !== client.secret) {
      return oauthError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    }
    const scope = form.get('scope') ?? '';
    switch (grantType) {
      case 'client_credentials':
        if (client.secret === undefined) return oauthError(400, 'invalid_client', 7000218, 'The request body must contain client_secret.');
        if (scope !== GRAPH_DEFAULT_SCOPE) return oauthError(400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid.`);
        return { status: 200, body: this.accessTokenBody({ clientId, ...(client.adminConsented === false ? { withoutRoles: true } : {}) }, client.tenantId) };
      case 'refresh_token':
        return this.redeemRefreshToken(tenant, clientId, form.get('refresh_token') ?? '', scope);
      default:
        return oauthError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`);
    }
  }

  private redeemRefreshToken(tenant: string, clientId: string, token: string, scope: string): TokenAnswer {
    if (!scope.split(' ').some((s) => s.startsWith('https://graph.microsoft.com/') || s === 'offline_access')) {
      return oauthError(400, 'invalid_scope', 70011, 'The provided request must include a valid scope.');
    }
    const record = this.refreshTokens.get(token);
    if (!record || record.clientId !== clientId) return oauthError(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
    if (record.state === 'revoked') return oauthError(400, 'invalid_grant', 50173, 'The provided grant has expired due to it being revoked.');
    if (record.state === 'used') return oauthError(400, 'invalid_grant', 70000, 'The refresh token has already been redeemed.');
    // A user redeeming at a tenant that is not theirs (e.g. the service's): "User account … does not
    // exist in tenant … and cannot access the application" (AADSTS50020, Entra's error code reference).
    if (tenant !== 'common' && tenant !== 'organizations' && tenant !== record.userTenant) {
      return oauthError(400, 'invalid_grant', 50020, `User account from identity provider does not exist in tenant '${tenant}' and cannot access the application.`);
    }
    const body = this.accessTokenBody({ clientId, userId: record.userId }, record.userTenant);
    if (this.rotateRefreshTokens) {
      record.state = 'used';
      body.refresh_token = this.issueRefreshToken(clientId, record.userId, { userTenant: record.userTenant });
    }
    body.scope = 'Files.Read.All';
    return { status: 200, body };
  }

  /**
   * Access tokens are JWTs whose payload names the tenant the user signed in to in `tid`
   * (https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference);
   * the signature part here is random bytes (nothing checks it: Graph is this emulator).
   */
  private accessTokenBody(grant: Omit<AccessGrant, 'expiresAt'>, tenantId: string): Record<string, unknown> {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const token = [part({ typ: 'JWT', alg: 'RS256' }), part({ tid: tenantId, ...(grant.userId ? { oid: grant.userId } : {}), appid: grant.clientId }), randomBytes(16).toString('base64url')].join('.');
    this.accessTokens.set(token, { ...grant, expiresAt: Date.now() + this.accessTokenTtlSeconds * 1000 });
    return { token_type: 'Bearer', expires_in: this.accessTokenTtlSeconds, ext_expires_in: this.accessTokenTtlSeconds, access_token: token };
  }
}
