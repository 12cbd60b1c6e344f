import { describe, expect, it } from 'vitest';
import { PermanentSourceError } from '../../../src/errors.js';
import { parseDriveConfig, scopeKey } from '../../../src/providers/google-drive/config.js';
import { createGoogleDriveProvider } from '../../../src/providers/google-drive/provider.js';

const noCredentials = { load: () => Promise.resolve(null), save: () => Promise.resolve() };
const provider = createGoogleDriveProvider({ serviceAccountJson: '', driveBaseUrl: 'http://127.0.0.1:1', oauthTokenUrl: 'http://127.0.0.1:1/token' }, noCredentials);

function refusal(config: Record<string, unknown>): PermanentSourceError {
  try {
    provider.validateConfig(config);
  } catch (e) {
    if (e instanceof PermanentSourceError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(config)}`);
}

describe('Google Drive connector config', () => {
  it('defaults to the whole My Drive', () => {
    expect(parseDriveConfig({}).scope).toEqual({ kind: 'my-drive' });
    expect(scopeKey(parseDriveConfig({ unrelated_ui_key: 1 }).scope)).toBe('my-drive');
  });

  it('reads the scope keys, including pasted Drive URLs', () => {
    expect(parseDriveConfig({ folder_id: 'https://drive.google.com/drive/folders/1AbC_d-9?usp=sharing' }).scope).toEqual({ kind: 'folder', folderId: '1AbC_d-9' });
    expect(parseDriveConfig({ folder_id: 'F1', drive_id: 'D1' }).scope).toEqual({ kind: 'folder', folderId: 'F1', driveId: 'D1' });
    expect(parseDriveConfig({ drive_id: 'https://drive.google.com/drive/u/0/folders/0AD1' }).scope).toEqual({ kind: 'shared-drive', driveId: '0AD1' });
    expect(parseDriveConfig({ all_shared_drives: 'true' }).scope).toEqual({ kind: 'all-shared-drives' });
    expect(parseDriveConfig({ all_shared_drives: false }).scope).toEqual({ kind: 'my-drive' });
  });

  it.each([
    [{ folder_id: 42 }, /"folder_id" must be a string/],
    [{ all_shared_drives: 'yes' }, /"all_shared_drives" must be true or false/],
    [{ all_shared_drives: true, folder_id: 'F' }, /"all_shared_drives" cannot be combined with folder_id/],
    [{ all_shared_drives: true, drive_id: 'D' }, /"all_shared_drives" cannot be combined with drive_id/],
    [{ export_formats: { spreadsheet: 'text/csv' } }, /"export_formats" maps "spreadsheet" to a type EchoMind cannot ingest/],
    [{ export_formats: 'pdf' }, /"export_formats" must be an object/],
    [{ auth: 'password' }, /"auth" must be "service_account" or "oauth"/],
    [{ impersonate_user: 'alice' }, /"impersonate_user" must be a Workspace user's email/],
    [{ subject: 'alice' }, /"subject" must be a Workspace user's email/],
    [{ impersonate_user: 'a@b.c', auth: 'oauth' }, /"impersonate_user" needs the service account/],
    [{ token_expires_at: 'soon' }, /"token_expires_at" must be an ISO date/],
  ])('refuses %j naming the key, never its value', (config, message) => {
    const error = refusal(config);
    expect(error.scope).toBe('sync');
    expect(error.code).toBe('invalidConfig');
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/^connector config "/);
    for (const value of Object.values(config)) {
      if (typeof value === 'string' && value.length > 3 && !['oauth', 'true'].includes(value)) expect(error.message).not.toContain(value);
    }
  });

  it('counts a blank key as absent', () => {
    expect(parseDriveConfig({ drive_id: '  ', folder_id: '' }).scope).toEqual({ kind: 'my-drive' });
  });

  it('never echoes a secret value it refuses', () => {
    const error = refusal({ refresh_token: { secret: 'hunter2' } });
    expect(error.message).toMatch(/"refresh_token" must be a string/);
    expect(error.message).not.toContain('hunter2');
  });

  it('reads the OAuth keys and the impersonated user', () => {
    const config = parseDriveConfig({
      refresh_token: 'r',
      client_id: 'c',
      client_secret: 's',
      access_token: 'a',
      token_expires_at: '2030-01-01T00:00:00Z',
      subject: 'alice@corp.example',
    });
    expect(config.oauth).toEqual({ refreshToken: 'r', clientId: 'c', clientSecret: 's', accessToken: 'a', accessTokenExpiresAt: new Date('2030-01-01T00:00:00Z') });
    expect(config.impersonate).toBe('alice@corp.example');
    expect(parseDriveConfig({ token_expires_at: 1_900_000_000_000 }).oauth.accessTokenExpiresAt?.getTime()).toBe(1_900_000_000_000);
  });
});
