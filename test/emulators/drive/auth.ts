import { createVerify, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { googleError } from './faults.js';

/**
 * Google's token endpoint and bearer checks, emulated: OAuth clients and
 * refresh tokens per user, service accounts (RS256 JWT bearer grant, verified
 * against the public key of a key pair generated at runtime, `sub` honoured
 * only with domain-wide delegation), and access tokens with a settable TTL.
 */

export const DEFAULT_CLIENT = { clientId: 'emulator-client.apps.googleusercontent.com', clientSecret: 'emulator-client-secret' };
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const DRIVE_SCOPES = ['https://www.googleapis.com/auth/drive.readonly', 'https://www.googleapis.com/auth/drive'];

export interface TokenGrantRecord {
  grantType: 'refresh_token' | 'jwt-bearer';
  identity: string;
  clientId?: string;
  /** JWT grants: the verified claims. */
  claims?: Record<string, unknown>;
}

interface ServiceAccount {
  email: string;
  publicKey: KeyObject;
  delegation: boolean;
}

export interface ServiceAccountKeyFile {
  email: string;
  /** The key file's JSON text (what GOOGLE_SERVICE_ACCOUNT_JSON may hold). */
  json: string;
}

export type TokenReply = { status: number; body: unknown };

export class GoogleIdentity {
  private readonly clients = new Map<string, string>([[DEFAULT_CLIENT.clientId, DEFAULT_CLIENT.clientSecret]]);
  private readonly refreshTokens = new Map<string, { identity: string; clientId: string; revoked: boolean }>();
  private readonly accessTokens = new Map<string, { identity: string; expiresAt: number }>();
  private readonly serviceAccounts = new Map<string, ServiceAccount>();
  /** Seconds an access token lives. */
  tokenTtlSeconds = 3600;
  /** Return a new refresh token with every refresh (rotation). */
  rotateRefreshTokens = false;
  /** Every token granted, in order (cleared by the emulator's reset). */
  readonly grants: TokenGrantRecord[] = [];

  constructor(
    private readonly tokenUrl: () => string,
    private readonly userExists: (email: string) => boolean,
  ) {}

  addClient(clientId: string, clientSecret: string): void {
    this.clients.set(clientId, clientSecret);
  }

  issueRefreshToken(identity: string, clientId = DEFAULT_CLIENT.clientId): string {
    const token = `1//emu-${randomBytes(12).toString('hex')}`;
    this.refreshTokens.set(token, { identity, clientId, revoked: false });
    return token;
  }

  revokeRefreshToken(token: string): void {
    const held = this.refreshTokens.get(token);
    if (held) held.revoked = true;
  }

  /** An access token for a test to seed into a credential row. */
  issueAccessToken(identity: string, ttlSeconds = this.tokenTtlSeconds): string {
    const token = `ya29.emu-${randomBytes(12).toString('hex')}`;
    this.accessTokens.set(token, { identity, expiresAt: Date.now() + ttlSeconds * 1000 });
    return token;
  }

  /** Every access token issued so far stops working (the next call gets 401). */
  expireAccessTokens(): void {
    for (const token of this.accessTokens.values()) token.expiresAt = 0;
  }

  createServiceAccount(options: { email?: string; delegation?: boolean } = {}): ServiceAccountKeyFile {
    const email = options.email ?? `sync-${randomBytes(3).toString('hex')}@emulator-project.iam.gserviceaccount.com`;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.serviceAccounts.set(email, { email, publicKey, delegation: options.delegation ?? false });
    const json = JSON.stringify({
      type: 'service_account',
      project_id: 'emulator-project',
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: email,
      client_id: '1234567890',
      token_uri: this.tokenUrl(),
    });
    return { email, json };
  }

  /** The identity (an email) a bearer token acts as, or null when unknown or expired. */
  identityOf(authorization: string | undefined): string | null {
    const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
    const held = token ? this.accessTokens.get(token) : undefined;
    if (!held || held.expiresAt <= Date.now()) return null;
    return held.identity;
  }

  private mint(identity: string, refreshToken?: string): TokenReply {
    const accessToken = this.issueAccessToken(identity);
    return {
      status: 200,
      body: {
        access_token: accessToken,
        expires_in: this.tokenTtlSeconds,
        token_type: 'Bearer',
        scope: DRIVE_SCOPES[0],
        ...(refreshToken ? { refresh_token: refreshToken } : {}),
      },
    };
  }

  handleTokenRequest(form: URLSearchParams): TokenReply {
    const grantType = form.get('grant_type');
    if (grantType === 'refresh_token') return this.refreshGrant(form);
    if (grantType === JWT_BEARER) return this.jwtGrant(form.get('assertion') ?? '');
    return { status: 400, body: { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${grantType ?? ''}` } };
  }

  private refreshGrant(form: URLSearchParams): TokenReply {
    const clientId = form.get('client_id') ?? '';
    if (this.clients.get(clientId) !== form.get('client_secret')) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'The OAuth client was not found.' } };
    }
    const token = form.get('refresh_token') ?? '';
    const held = this.refreshTokens.get(token);
    if (!held || held.revoked || held.clientId !== clientId) {
      return { status: 400, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } };
    }
    this.grants.push({ grantType: 'refresh_token', identity: held.identity, clientId });
    return this.mint(held.identity, this.rotateRefreshTokens ? this.issueRefreshToken(held.identity, clientId) : undefined);
  }

  private jwtGrant(assertion: string): TokenReply {
    const refuse = (description: string, error = 'invalid_grant'): TokenReply => ({
      status: error === 'invalid_grant' ? 400 : 401,
      body: { error, error_description: description },
    });
    const [header64, claims64, signature64] = assertion.split('.');
    if (!header64 || !claims64 || !signature64) return refuse('Invalid JWT: malformed assertion');
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(header64, 'base64url').toString()) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(claims64, 'base64url').toString()) as Record<string, unknown>;
    } catch {
      return refuse('Invalid JWT: undecodable');
    }
    const account = this.serviceAccounts.get(String(claims.iss));
    if (header.alg !== 'RS256' || !account) return refuse('Invalid JWT Signature.');
    const valid = createVerify('RSA-SHA256').update(`${header64}.${claims64}`).verify(account.publicKey, Buffer.from(signature64, 'base64url'));
    if (!valid) return refuse('Invalid JWT Signature.');
    const now = Math.floor(Date.now() / 1000);
    if (claims.aud !== this.tokenUrl()) return refuse('Invalid JWT: Token must be a short-lived token and in a reasonable timeframe (aud)');
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || claims.exp < now || claims.exp - claims.iat > 3600) {
      return refuse('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    if (!scopes.some((s) => DRIVE_SCOPES.includes(s))) return refuse('Invalid OAuth scope or ID token audience provided.', 'invalid_scope');
    let identity = account.email;
    if (claims.sub !== undefined) {
      if (typeof claims.sub !== 'string') return refuse('Invalid JWT: sub must be a string');
      if (!account.delegation) {
        return refuse('Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.', 'unauthorized_client');
      }
      if (!this.userExists(claims.sub)) return refuse('Invalid email or User ID');
      identity = claims.sub;
    }
    this.grants.push({ grantType: 'jwt-bearer', identity, claims });
    return this.mint(identity);
  }
}

export function unauthenticated(): { status: number; body: unknown } {
  return googleError(401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token.', {
    location: 'Authorization',
    locationType: 'header',
  });
}
