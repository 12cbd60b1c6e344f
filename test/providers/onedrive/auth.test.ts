import { beforeEach, describe, expect, it } from 'vitest';
import { PermanentSourceError } from '../../../src/errors.js';
import {
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
  EMULATOR_PUBLIC_CLIENT_ID,
  EMULATOR_TENANT,
  EMULATOR_USER,
  type GraphEmulator,
} from '../../emulators/graph/index.js';
import { oneDriveContext, providerFor, upsertNames, walk, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;

useGraphEmulator((e) => (emulator = e));
beforeEach(() => {
  emulator.addFile('/', 'a.txt', 'a');
});

const tokenRequests = () => emulator.identity.tokenRequests;

describe('Microsoft sign-in, app-only', () => {
  it('tells the user to have an administrator grant admin consent when the app has no Graph permission in the tenant', async () => {
    emulator.identity.registerClient('unconsented-app', { secret: 'its-secret', tenantId: EMULATOR_TENANT, adminConsented: false });
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, client_id: 'unconsented-app', client_secret: 'its-secret' });

    const error: unknown = await provider.listChanges(ctx, null).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentSourceError);
    expect(error).toMatchObject({ scope: 'sync', message: expect.stringContaining('grant admin consent to app unconsented-app') });
    expect((error as Error).message).not.toContain('reconnect');
    expect(tokenRequests()).toHaveLength(2); // one fresh token: it is the one that helps once consent is given
  });

  it('says the same when the tenant does not know the app at all (AADSTS700016)', async () => {
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { drive_id: emulator.drive.id, client_id: 'never-registered', client_secret: 'x' });
    await expect(provider.listChanges(ctx, null)).rejects.toMatchObject({
      name: 'PermanentSourceError',
      scope: 'sync',
      message: expect.stringMatching(/AADSTS700016.*grant admin consent/),
    });
  });

  it('signs in with client credentials once and reuses the token across calls and connectors', async () => {
    const provider = providerFor(emulator);
    await walk(provider, oneDriveContext(emulator), null);
    await walk(provider, oneDriveContext(emulator), null);

    expect(tokenRequests()).toEqual([{ tenant: EMULATOR_TENANT, grantType: 'client_credentials', clientId: EMULATOR_CLIENT_ID, error: undefined }]);
    expect(emulator.requests.filter((r) => r.path.startsWith('/v1.0/')).every((r) => r.authorized)).toBe(true);
  });

  it('uses the connector\'s own app when its config names one', async () => {
    emulator.identity.registerClient('tenant-app', { secret: 'tenant-secret', tenantId: 'other-tenant' });
    emulator.store.userDrives.set('bob', emulator.drive.id);
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, { user_id: 'bob', client_id: 'tenant-app', client_secret: 'tenant-secret', tenant_id: 'other-tenant' });

    const { changes } = await walk(provider, ctx, null);

    expect(upsertNames(changes)).toEqual(['a.txt']);
    expect(tokenRequests().map((r) => [r.tenant, r.clientId, r.error])).toEqual([['other-tenant', 'tenant-app', undefined]]);
  });

  it('asks for a new token before the old one expires', async () => {
    emulator.identity.accessTokenTtlSeconds = 1; // refreshed at half its life when that is under 5 minutes
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    await provider.listChanges(ctx, null);
    await new Promise((r) => setTimeout(r, 600));
    await provider.listChanges(ctx, null);
    expect(tokenRequests()).toHaveLength(2);
    expect(emulator.requests.filter((r) => r.status === 401)).toEqual([]);
  });

  it('refreshes once when Graph says the token expired, and the call succeeds', async () => {
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    await walk(provider, ctx, null);
    emulator.identity.expireAccessTokens(); // our cache still believes in it

    const { changes } = await walk(provider, ctx, null);

    expect(upsertNames(changes)).toEqual(['a.txt']);
    expect(tokenRequests()).toHaveLength(2);
    expect(emulator.requests.filter((r) => r.status === 401)).toHaveLength(1);
  });

  it('gives up with a sync-level error asking for admin consent when Graph keeps refusing fresh app tokens', async () => {
    const provider = providerFor(emulator);
    emulator.faults.push({ match: /^\/v1\.0\//, status: 401, times: 5 });
    const error: unknown = await provider.listChanges(oneDriveContext(emulator), null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentSourceError);
    // An app has no account to reconnect: only an administrator's consent gives its token the roles Graph wants.
    expect(error).toMatchObject({ scope: 'sync', message: expect.stringContaining('grant admin consent') });
    expect((error as Error).message).not.toContain('reconnect');
    expect(tokenRequests()).toHaveLength(2); // the first token, and exactly one refresh
  });

  it('names the missing setting when there are no credentials at all', async () => {
    const provider = providerFor(emulator, { clientId: '', clientSecret: '', tenantId: '' });
    const error: unknown = await provider.listChanges(oneDriveContext(emulator), null).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'PermanentSourceError', scope: 'sync', code: 'missingCredentials', message: expect.stringContaining('MS_GRAPH_CLIENT_ID') });
    expect(emulator.requests).toEqual([]);
  });

  it('reports a wrong client secret as a sync error naming the settings, without echoing the secret', async () => {
    const provider = providerFor(emulator, { clientSecret: 'wrong-secret-value' });
    const error: unknown = await provider.listChanges(oneDriveContext(emulator), null).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'PermanentSourceError', scope: 'sync', code: 'invalidClient', message: expect.stringContaining('MS_GRAPH_CLIENT_SECRET') });
    expect((error as Error).message).not.toContain('wrong-secret-value');
    expect(tokenRequests()).toHaveLength(1); // not retried
  });
});

describe('Microsoft sign-in, delegated (refresh token)', () => {
  const delegatedConfig = (refreshToken: string) => ({ refresh_token: refreshToken });

  it('saves the rotated refresh token before using the access token, and the old one is then refused', async () => {
    const original = emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, EMULATOR_USER.id);
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, delegatedConfig(original));
    let graphCallsWhenSaved = -1;
    const save = ctx.credentials.updateConnectorConfig.bind(ctx.credentials);
    ctx.credentials.updateConnectorConfig = async (patch) => {
      graphCallsWhenSaved = emulator.requests.filter((r) => r.path.startsWith('/v1.0/')).length;
      await save(patch);
    };

    const { changes } = await walk(provider, ctx, null);

    expect(upsertNames(changes)).toEqual(['a.txt']); // through /me/drive
    expect(ctx.configPatches).toHaveLength(1);
    const rotated = ctx.configPatches[0]?.refresh_token;
    expect(typeof rotated).toBe('string');
    expect(rotated).not.toBe(original);
    expect(ctx.config.refresh_token).toBe(rotated);
    expect(graphCallsWhenSaved).toBe(0);
    expect(emulator.identity.refreshTokenState(original)).toBe('used');
    expect(emulator.identity.refreshTokenState(String(rotated))).toBe('active');

    const reuse = await fetch(`${emulator.loginBaseUrl}/common/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: EMULATOR_CLIENT_ID, client_secret: EMULATOR_CLIENT_SECRET, refresh_token: original, scope: 'offline_access https://graph.microsoft.com/.default' }) });
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('keeps using the saved lineage: the next sync reuses the cached token, a forced refresh rotates again', async () => {
    const original = emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, EMULATOR_USER.id);
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, delegatedConfig(original));
    await walk(provider, ctx, null);
    // A new activity: a fresh context built from the row, which now holds the rotated token.
    const nextRun = oneDriveContext(emulator, { ...ctx.config });
    Object.assign(nextRun.connector, { id: ctx.connector.id });

    await walk(provider, nextRun, null);
    expect(tokenRequests()).toHaveLength(1);

    emulator.identity.expireAccessTokens();
    await walk(provider, nextRun, null);
    expect(tokenRequests().map((r) => r.error)).toEqual([undefined, undefined]);
    expect(nextRun.configPatches).toHaveLength(1);
    expect(emulator.identity.refreshTokenState(String(nextRun.config.refresh_token))).toBe('active');
  });

  it('retries the write-back of a rotated token when saving it failed, without redeeming the old token again', async () => {
    const original = emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, EMULATOR_USER.id);
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, delegatedConfig(original));
    const save = ctx.credentials.updateConnectorConfig.bind(ctx.credentials);
    ctx.credentials.updateConnectorConfig = () => Promise.reject(new Error('database unavailable'));
    await expect(provider.listChanges(ctx, null)).rejects.toThrow('database unavailable');
    expect(emulator.requests.filter((r) => r.path.startsWith('/v1.0/'))).toEqual([]);

    ctx.credentials.updateConnectorConfig = save; // the activity is retried; the row still holds the old token
    await walk(provider, ctx, null);

    expect(tokenRequests()).toHaveLength(1);
    expect(ctx.config.refresh_token).not.toBe(original);
    expect(emulator.identity.refreshTokenState(String(ctx.config.refresh_token))).toBe('active');
  });

  it('shares one refresh between concurrent calls, so a rotating token is redeemed once', async () => {
    const original = emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, EMULATOR_USER.id);
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator, delegatedConfig(original));
    const pages = await Promise.all([provider.listChanges(ctx, null), provider.listChanges(ctx, null), provider.listChanges(ctx, null)]);
    expect(pages.map((p) => upsertNames(p.changes))).toEqual([['a.txt'], ['a.txt'], ['a.txt']]);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('signs a user of another organisation in at their own tenant ("organizations"), not the service\'s', async () => {
    const token = emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, 'bob', { userTenant: 'fabrikam-tenant' });
    const provider = providerFor(emulator); // the service's MS_GRAPH_TENANT_ID is the emulator's tenant
    const ctx = oneDriveContext(emulator, { refresh_token: token, drive_id: emulator.drive.id });

    const { changes } = await walk(provider, ctx, null);

    expect(upsertNames(changes)).toEqual(['a.txt']);
    expect(tokenRequests().map((r) => [r.tenant, r.error])).toEqual([['organizations', undefined]]);
  });

  it('works with a public client (no secret) and does not save anything when Microsoft does not rotate', async () => {
    emulator.identity.rotateRefreshTokens = false;
    const token = emulator.identity.issueRefreshToken(EMULATOR_PUBLIC_CLIENT_ID, EMULATOR_USER.id);
    const provider = providerFor(emulator, { clientId: '', clientSecret: '', tenantId: '' });
    const ctx = oneDriveContext(emulator, { refresh_token: token, client_id: EMULATOR_PUBLIC_CLIENT_ID, drive_id: emulator.drive.id });
    const { changes } = await walk(provider, ctx, null);
    expect(upsertNames(changes)).toEqual(['a.txt']);
    expect(ctx.configPatches).toEqual([]);
    expect(tokenRequests()).toEqual([{ tenant: 'organizations', grantType: 'refresh_token', clientId: EMULATOR_PUBLIC_CLIENT_ID, error: undefined }]);
  });

  it('turns invalid_grant into a sync error asking to reconnect, without retrying or echoing the token', async () => {
    const revoked = emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, EMULATOR_USER.id);
    emulator.identity.revokeRefreshToken(revoked);
    const provider = providerFor(emulator);

    const error: unknown = await provider.listChanges(oneDriveContext(emulator, delegatedConfig(revoked)), null).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PermanentSourceError);
    expect(error).toMatchObject({ code: 'invalidGrant', scope: 'sync', message: expect.stringMatching(/reconnect the Microsoft account/) });
    expect(JSON.stringify(error) + String((error as Error).message)).not.toContain(revoked);
    expect(tokenRequests()).toHaveLength(1);
  });
});

describe('one tenant, one pause: delegated connectors signed in through "organizations"', () => {
  const CONTOSO = '7d1b3c55-2f6e-4a4b-9c1e-0a8b5e2f4d61';
  const FABRIKAM = 'c0ffee00-1234-4abc-8def-0123456789ab';
  const delegated = (user: string, tenant: string) => ({
    drive_id: emulator.drive.id,
    refresh_token: emulator.identity.issueRefreshToken(EMULATOR_CLIENT_ID, user, { userTenant: tenant }),
  });
  const graphCalls = () => emulator.requests.filter((r) => r.path.startsWith('/v1.0/')).length;

  it('a 429 to one connector pauses the other connectors of its tenant (learnt from the token), not those of another tenant', async () => {
    const provider = providerFor(emulator);
    const ann = oneDriveContext(emulator, delegated('ann', CONTOSO));
    const bea = oneDriveContext(emulator, delegated('bea', CONTOSO));
    const carl = oneDriveContext(emulator, delegated('carl', FABRIKAM));
    const annCursor = (await walk(provider, ann, null)).cursor;
    const beaCursor = (await walk(provider, bea, null)).cursor;
    const carlCursor = (await walk(provider, carl, null)).cursor;
    expect(tokenRequests().map((r) => r.tenant)).toEqual(['organizations', 'organizations', 'organizations']);

    // SharePoint throttles Ann's next call for two minutes: longer than an activity waits in place.
    emulator.faults.push({ match: /\/root\/delta$/, status: 429, retryAfter: '120' });
    await expect(provider.listChanges(ann, annCursor)).rejects.toMatchObject({ name: 'ThrottledError' });

    const before = graphCalls();
    const paused: unknown = await provider.listChanges(bea, beaCursor).catch((e: unknown) => e);
    expect(paused).toMatchObject({ name: 'ThrottledError', code: 'tenantPaused', message: expect.stringContaining(`graph:${CONTOSO}`) });
    expect(graphCalls()).toBe(before); // Bea's request never reached Graph

    const other = await provider.listChanges(carl, carlCursor);
    expect(other.hasMore).toBe(false); // Fabrikam's connector is not held by Contoso's pause
    expect(graphCalls()).toBe(before + 1);
  });

  it('a connector whose token names no tenant id waits alone, not with every connector signed in through "organizations"', async () => {
    const provider = providerFor(emulator);
    const ann = oneDriveContext(emulator, delegated('ann', CONTOSO));
    const opaque = oneDriveContext(emulator, delegated('dan', 'personal-accounts-tenant'));
    const annCursor = (await walk(provider, ann, null)).cursor;
    const opaqueCursor = (await walk(provider, opaque, null)).cursor;

    emulator.faults.push({ match: /\/root\/delta$/, status: 429, retryAfter: '120' });
    await expect(provider.listChanges(ann, annCursor)).rejects.toMatchObject({ name: 'ThrottledError' });

    const page = await provider.listChanges(opaque, opaqueCursor);
    expect(page.hasMore).toBe(false);
  });
});
