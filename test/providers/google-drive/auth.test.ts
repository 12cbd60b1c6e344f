import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { PermanentSourceError } from '../../../src/errors.js';
import { DEFAULT_CLIENT, DEFAULT_USER, fault, type DriveEmulator } from '../../emulators/drive/index.js';
import { credentialRow, drain, driveContext, names, providerFor, useDriveEmulator } from './harness.js';

let emu: DriveEmulator;
useDriveEmulator((e) => (emu = e));
beforeEach(() => {
  emu.tokenTtlSeconds = 3600;
  emu.identity.rotateRefreshTokens = false;
  emu.addFile(emu.myDrive(), 'owner.txt', 'o', { mimeType: 'text/plain' });
});

async function failure(work: Promise<unknown>): Promise<PermanentSourceError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof PermanentSourceError)) throw new Error(`expected a PermanentSourceError, got ${String(error)}`);
  return error;
}

describe('user OAuth from google_credentials (the row EchoMind keeps current)', () => {
  it('refreshes with the stored refresh token and saves the new access token to the row', async () => {
    const ctx = driveContext(emu);
    const result = await drain(providerFor(emu), ctx, null);
    expect(names(result.changes)).toEqual(['owner.txt']);
    expect(emu.tokenGrants).toEqual([{ grantType: 'refresh_token', identity: DEFAULT_USER, clientId: DEFAULT_CLIENT.clientId }]);
    const saved = ctx.googleCredential;
    expect(saved?.accessToken && emu.identity.identityOf(`Bearer ${saved.accessToken}`)).toBe(DEFAULT_USER);
    expect(saved?.expiresAt?.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
  });

  it('uses a stored access token with more than 5 minutes left, without refreshing', async () => {
    const accessToken = emu.identity.issueAccessToken(DEFAULT_USER);
    const ctx = driveContext(emu, {}, { googleCredential: credentialRow(emu, DEFAULT_USER, { accessToken, expiresAt: new Date(Date.now() + 3_600_000) }) });
    await drain(providerFor(emu), ctx, null);
    expect(emu.tokenGrants).toHaveLength(0);
  });

  it('refreshes ahead of expiry when the stored token has less than 5 minutes left', async () => {
    const accessToken = emu.identity.issueAccessToken(DEFAULT_USER);
    const ctx = driveContext(emu, {}, { googleCredential: credentialRow(emu, DEFAULT_USER, { accessToken, expiresAt: new Date(Date.now() + 120_000) }) });
    await drain(providerFor(emu), ctx, null);
    expect(emu.tokenGrants).toHaveLength(1);
    expect(ctx.googleCredential?.accessToken).not.toBe(accessToken);
    expect(emu.requests.filter((r) => r.status === 401)).toHaveLength(0);
  });

  it('keeps using a short-lived token until halfway through its life instead of refreshing per request', async () => {
    emu.tokenTtlSeconds = 120;
    emu.maxPageSize = 1;
    for (let i = 0; i < 4; i++) emu.addFile(emu.myDrive(), `f${i}.txt`, 'x', { mimeType: 'text/plain' });
    const result = await drain(providerFor(emu), driveContext(emu), null);
    expect(result.pages.length).toBeGreaterThan(4);
    expect(emu.tokenGrants).toHaveLength(1);
  });

  it('on a 401 refreshes once, retries, and saves the refreshed token', async () => {
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const first = await drain(provider, ctx, null);
    const before = ctx.googleCredential?.accessToken;
    emu.expireAccessTokens();
    emu.addFile(emu.myDrive(), 'after.txt', 'a', { mimeType: 'text/plain' });
    const next = await drain(provider, ctx, first.cursor);
    expect(names(next.changes)).toEqual(['after.txt']);
    expect(emu.requests.filter((r) => r.status === 401)).toHaveLength(1);
    expect(emu.tokenGrants).toHaveLength(2);
    expect(ctx.googleCredential?.accessToken).not.toBe(before);
    expect(emu.identity.identityOf(`Bearer ${ctx.googleCredential?.accessToken ?? ''}`)).toBe(DEFAULT_USER);
  });

  it('stops with a reconnect message when refreshing does not help', async () => {
    emu.fail({ path: '/drive/v3/files', times: Infinity, reply: fault.unauthorized() });
    const error = await failure(drain(providerFor(emu), driveContext(emu), null));
    expect(error.scope).toBe('sync');
    expect(error.message).toMatch(/reconnect the account/);
    expect(emu.tokenGrants).toHaveLength(2);
  });

  it('stops the sync with "reconnect" when the grant is revoked, without printing the token', async () => {
    const row = credentialRow(emu);
    emu.revokeRefreshToken(row.refreshToken ?? '');
    const error = await failure(drain(providerFor(emu), driveContext(emu, {}, { googleCredential: row }), null));
    expect(error).toMatchObject({ scope: 'sync', code: 'invalidGrant' });
    expect(error.message).toMatch(/reconnect the Google account in EchoMind/);
    expect(error.message).not.toContain(row.refreshToken);
    expect(error.message).not.toContain(DEFAULT_CLIENT.clientSecret);
  });

  it('stops with invalid_client when the client secret is wrong', async () => {
    const row = credentialRow(emu, DEFAULT_USER, { clientSecret: 'wrong' });
    const error = await failure(drain(providerFor(emu), driveContext(emu, {}, { googleCredential: row }), null));
    expect(error).toMatchObject({ scope: 'sync', code: 'invalidClient' });
  });

  it('asks to reconnect when an expired token has no refresh token', async () => {
    const row = credentialRow(emu, DEFAULT_USER, { refreshToken: null, accessToken: 'ya29.old', expiresAt: new Date(Date.now() - 1000) });
    const error = await failure(drain(providerFor(emu), driveContext(emu, {}, { googleCredential: row }), null));
    expect(error).toMatchObject({ scope: 'sync', code: 'invalidGrant' });
  });
});

describe('user OAuth from the connector config', () => {
  it('refreshes from config keys and writes the token, and a rotated refresh token, back to the config', async () => {
    emu.identity.rotateRefreshTokens = true;
    const refreshToken = emu.issueRefreshToken();
    const config = { refresh_token: refreshToken, client_id: DEFAULT_CLIENT.clientId, client_secret: DEFAULT_CLIENT.clientSecret };
    const ctx = driveContext(emu, config, { googleCredential: null });
    await drain(providerFor(emu), ctx, null);
    expect(ctx.configPatches).toHaveLength(1);
    const patch = ctx.configPatches[0] ?? {};
    expect(emu.identity.identityOf(`Bearer ${String(patch.access_token)}`)).toBe(DEFAULT_USER);
    expect(Date.parse(String(patch.token_expires_at))).toBeGreaterThan(Date.now());
    expect(patch.refresh_token).toEqual(expect.any(String));
    expect(patch.refresh_token).not.toBe(refreshToken);
  });

  it('stops when there are no credentials at all', async () => {
    const error = await failure(drain(providerFor(emu), driveContext(emu, {}, { googleCredential: null }), null));
    expect(error).toMatchObject({ scope: 'sync', code: 'noCredentials' });
    expect(error.message).toMatch(/connect a Google account/);
  });

  it('stops when a user grant lacks the OAuth client', async () => {
    const ctx = driveContext(emu, { refresh_token: emu.issueRefreshToken() }, { googleCredential: null });
    await expect(drain(providerFor(emu), ctx, null)).rejects.toMatchObject({ code: 'missingClient', scope: 'sync' });
  });
});

describe('service account', () => {
  it('acts as the impersonated Workspace user with a signed JWT (sub verified by the emulator)', async () => {
    const key = emu.createServiceAccount({ delegation: true });
    emu.addUser('alice@corp.example');
    emu.addFile(emu.myDrive('alice@corp.example'), 'alice.txt', 'alice', { mimeType: 'text/plain' });
    const ctx = driveContext(emu, { impersonate_user: 'alice@corp.example' }, { googleCredential: credentialRow(emu) });
    const result = await drain(providerFor(emu, key.json), ctx, null);
    expect(names(result.changes)).toEqual(['alice.txt']);
    expect(emu.tokenGrants).toHaveLength(1);
    expect(emu.tokenGrants[0]).toMatchObject({
      grantType: 'jwt-bearer',
      identity: 'alice@corp.example',
      claims: { iss: key.email, sub: 'alice@corp.example', aud: emu.tokenUrl, scope: 'https://www.googleapis.com/auth/drive.readonly' } });
  });

  it('is used when the user has no credentials, from a key file path', async () => {
    const key = emu.createServiceAccount();
    emu.addFile(emu.myDrive(key.email), 'robot.txt', 'r', { mimeType: 'text/plain' });
    const dir = await mkdtemp(join(tmpdir(), 'gdrive-sa-'));
    const path = join(dir, 'key.json');
    await writeFile(path, key.json);
    const result = await drain(providerFor(emu, path), driveContext(emu, {}, { googleCredential: null }), null);
    expect(names(result.changes)).toEqual(['robot.txt']);
    expect(emu.tokenGrants[0]).toMatchObject({ grantType: 'jwt-bearer', identity: key.email });
    expect(emu.tokenGrants[0]?.claims?.sub).toBeUndefined();
  });

  it('is refused by Google when impersonation lacks domain-wide delegation', async () => {
    const key = emu.createServiceAccount({ delegation: false });
    emu.addUser('bob@corp.example');
    const error = await failure(drain(providerFor(emu, key.json), driveContext(emu, { impersonate_user: 'bob@corp.example' }), null));
    expect(error).toMatchObject({ scope: 'sync', code: 'unauthorizedClient' });
    expect(error.message).toMatch(/domain-wide delegation/);
  });

  it('is refused when the key is not the registered one (the emulator checks the signature)', async () => {
    const registered = emu.createServiceAccount();
    const impostor = JSON.parse(emu.createServiceAccount().json) as Record<string, unknown>;
    const forged = JSON.stringify({ ...impostor, client_email: registered.email });
    const error = await failure(drain(providerFor(emu, forged), driveContext(emu, { auth: 'service_account' }), null));
    expect(error).toMatchObject({ scope: 'sync', code: 'invalidGrant' });
  });

  it('explains a key that is not JSON without printing any of it', async () => {
    const secret = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC';
    const broken = `{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n${secret}`;
    const error = await failure(drain(providerFor(emu, broken), driveContext(emu, { auth: 'service_account' }), null));
    expect(error).toMatchObject({ scope: 'sync', code: 'serviceAccountInvalid' });
    expect(error.message).toMatch(/^GOOGLE_SERVICE_ACCOUNT_JSON is not valid JSON/);
    expect(error.message).not.toContain(secret);
    expect(error.cause).toBeUndefined();
  });

  it('explains a key with a bad private key or missing fields, without printing it', async () => {
    const secret = 'not-a-pem-but-secret-material';
    const badKey = JSON.stringify({ type: 'service_account', client_email: 'x@y.iam.gserviceaccount.com', private_key: secret });
    const first = await failure(drain(providerFor(emu, badKey), driveContext(emu, { auth: 'service_account' }), null));
    expect(first.message).toMatch(/private_key that is not a readable PEM key/);
    expect(first.message).not.toContain(secret);
    const missing = await failure(drain(providerFor(emu, '{"type":"service_account"}'), driveContext(emu, { auth: 'service_account' }), null));
    expect(missing.message).toMatch(/lacks client_email and private_key/);
    const wrongType = await failure(drain(providerFor(emu, '{"type":"authorized_user"}'), driveContext(emu, { auth: 'service_account' }), null));
    expect(wrongType.message).toMatch(/is not a service-account key/);
    const notObject = await failure(drain(providerFor(emu, '{}'.replace('{}', '[1]')), driveContext(emu, { auth: 'service_account' }), null));
    expect(notObject.code).toBe('serviceAccountInvalid');
  });

  it('names a key file that cannot be read', async () => {
    const error = await failure(drain(providerFor(emu, '/nonexistent/key.json'), driveContext(emu, { auth: 'service_account' }), null));
    expect(error.message).toMatch(/GOOGLE_SERVICE_ACCOUNT_JSON names a file that cannot be read \(ENOENT\)/);
  });

  it('is required when the connector asks for it', async () => {
    const error = await failure(drain(providerFor(emu), driveContext(emu, { auth: 'service_account' }), null));
    expect(error).toMatchObject({ code: 'serviceAccountMissing', scope: 'sync' });
  });
});
