/**
 * The tenant each delegated sign-in turned out to belong to. A connector signed in through the
 * `organizations` or `common` authority does not name its tenant, but its access token does: Entra
 * access tokens are JWTs whose `tid` claim is the tenant the user signed in to
 * (https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference).
 * Graph and SharePoint throttle per app and tenant, so once a token says the tenant, the
 * connector's requests pause (and spend the shared budget) with that tenant's other connectors.
 * The worker holds one of these for its whole life (see SourceMemory).
 */
export class SignedInTenants {
  private readonly bySignIn = new Map<string, string>();

  /** Reads the tenant from a fresh access token; a token that is no JWT or has no `tid` teaches nothing. */
  learn(signInKey: string, accessToken: string): void {
    const tenantId = tenantOfAccessToken(accessToken);
    if (tenantId !== undefined) this.bySignIn.set(signInKey, tenantId);
  }

  /** The tenant a sign-in's last token named, if any yet. */
  tenantOf(signInKey: string): string | undefined {
    return this.bySignIn.get(signInKey);
  }
}

/** Tenant ids are GUIDs; anything else in `tid` is not trusted as a key. */
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The `tid` claim of a JWT access token, unverified: it only chooses whom a throttling pause is
 * shared with, never what the token may do. Microsoft asks apps not to depend on a token's claims
 * (personal accounts' tokens are not JWTs at all), so anything unreadable gives undefined and the
 * connector keeps a pause of its own.
 */
export function tenantOfAccessToken(accessToken: string): string | undefined {
  const parts = accessToken.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    const tid = typeof claims === 'object' && claims !== null ? (claims as { tid?: unknown }).tid : undefined;
    return typeof tid === 'string' && TENANT_ID.test(tid) ? tid.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}
