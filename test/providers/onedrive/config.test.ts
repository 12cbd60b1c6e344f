import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config.js';
import { PermanentSourceError } from '../../../src/errors.js';
import { resolveGraphIdentity } from '../../../src/providers/microsoft-graph/identity.js';
import { parseOneDriveConfig, scopeKey } from '../../../src/providers/microsoft-graph/onedrive/config.js';
import { createOneDriveProvider } from '../../../src/providers/microsoft-graph/onedrive/provider.js';

const settings: Config['microsoft'] = {
  clientId: 'svc-app',
  clientSecret: 'svc-secret',
  tenantId: 'svc-tenant',
  graphBaseUrl: 'https://graph.microsoft.com/v1.0',
  loginBaseUrl: 'https://login.microsoftonline.com',
};
const provider = createOneDriveProvider(settings);

function configError(config: Record<string, unknown>, withSettings = settings): PermanentSourceError {
  try {
    createOneDriveProvider(withSettings).validateConfig(config);
  } catch (e) {
    if (e instanceof PermanentSourceError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(config)}`);
}

describe('OneDrive config', () => {
  it('reads the drive and the folder scope', () => {
    expect(parseOneDriveConfig({ drive_id: ' b!x ', folder_path: '/Team/Reports/' })).toEqual({
      target: { kind: 'drive', id: 'b!x' },
      folder: { kind: 'path', path: 'Team/Reports' },
      pageSize: 200,
      fullEnumerationDays: 7,
    });
    expect(parseOneDriveConfig({ drive_id: 'd', full_enumeration_days: 0 }).fullEnumerationDays).toBe(0);
    expect(() => parseOneDriveConfig({ drive_id: 'd', full_enumeration_days: 400 })).toThrow(/full_enumeration_days/);
    expect(parseOneDriveConfig({ user_principal_name: 'a@b.c', folder_id: 'F1' })).toEqual({ target: { kind: 'user', id: 'a@b.c' }, folder: { kind: 'id', id: 'F1' }, pageSize: 200, fullEnumerationDays: 7 });
    expect(parseOneDriveConfig({ site_id: 's', folder_path: '' })).toEqual({ target: { kind: 'site-libraries', id: 's', libraries: null }, folder: null, pageSize: 200, fullEnumerationDays: 7 });
    expect(parseOneDriveConfig({ site_id: 's', libraries: 'Documents, Contracts' }).target).toEqual({ kind: 'site-libraries', id: 's', libraries: ['Documents', 'Contracts'] });
    expect(parseOneDriveConfig({ site_id: 's', folder_path: '/A' }).target).toEqual({ kind: 'site', id: 's' }); // a folder lies in the default library
    expect(() => parseOneDriveConfig({ drive_id: 'd', libraries: ['x'] })).toThrow(/"libraries".*site_id/);
    expect(() => parseOneDriveConfig({ site_id: 's', libraries: ['x'], folder_id: 'f' })).toThrow(/"libraries".*folder/);
    expect(parseOneDriveConfig({ refresh_token: 'rt' })).toEqual({ target: { kind: 'me' }, folder: null, pageSize: 200, fullEnumerationDays: 7 });
  });

  it('reads page_size and refuses one Graph would not take', () => {
    expect(parseOneDriveConfig({ drive_id: 'd', page_size: 5 }).pageSize).toBe(5);
    expect(parseOneDriveConfig({ drive_id: 'd', page_size: '50' }).pageSize).toBe(50);
    expect(() => parseOneDriveConfig({ drive_id: 'd', page_size: 0 })).toThrow(/"page_size" must be a whole number from 1 to 999/);
    expect(() => parseOneDriveConfig({ drive_id: 'd', page_size: 1.5 })).toThrow(/page_size/);
  });

  it('gives each drive and folder its own scope key', () => {
    const keys = [{ drive_id: 'a' }, { drive_id: 'b' }, { drive_id: 'a', folder_id: 'f' }, { drive_id: 'a', folder_path: 'f' }, { user_id: 'a' }].map((c) =>
      scopeKey(parseOneDriveConfig(c)),
    );
    expect(new Set(keys).size).toBe(keys.length);
  });

  it.each([
    [{}, 'drive_id', 'is missing'],
    [{ drive_id: 42 }, 'drive_id', 'must be a string'],
    [{ drive_id: 'a', site_id: 'b' }, 'site_id', 'cannot be combined'],
    [{ user_id: 'a', user_principal_name: 'b' }, 'user_principal_name', 'cannot be combined'],
    [{ drive_id: 'a', folder_id: 'f', folder_path: '/p' }, 'folder_path', 'cannot be combined'],
    [{ drive_id: 'a', folder_path: '/a/../b' }, 'folder_path', 'without "." or ".."'],
    [{ drive_id: 'a', folder_id: ['f'] }, 'folder_id', 'must be a string'],
  ])('refuses %j, naming %s', (config, key, problem) => {
    const error = configError(config);
    expect(error).toMatchObject({ scope: 'sync', code: 'invalidConfig' });
    expect(error.message).toContain(`"${key}"`);
    expect(error.message).toContain(problem);
  });

  it('accepts a valid config', () => {
    expect(() => provider.validateConfig({ drive_id: 'b!x', folder_path: '/Docs' })).not.toThrow();
  });
});

describe('Microsoft sign-in settings', () => {
  const none = { ...settings, clientId: '', clientSecret: '', tenantId: '' };

  it('uses the service app unless the connector names its own', () => {
    expect(resolveGraphIdentity({}, settings)).toEqual({ kind: 'app', tenantId: 'svc-tenant', clientId: 'svc-app', clientSecret: 'svc-secret' });
    expect(resolveGraphIdentity({ client_id: 'own', client_secret: 'own-secret', tenant_id: 't2' }, settings)).toEqual({
      kind: 'app',
      tenantId: 't2',
      clientId: 'own',
      clientSecret: 'own-secret',
    });
  });

  it('signs in as the user when the config holds a refresh token, at the user\'s own organisation rather than the service\'s tenant', () => {
    const expected = { kind: 'delegated', tenantId: 'organizations', clientId: 'svc-app', clientSecret: 'svc-secret', refreshToken: 'rt' };
    expect(resolveGraphIdentity({ refresh_token: 'rt' }, settings)).toEqual(expected);
    expect(resolveGraphIdentity({ refresh_token: 'rt', tenant_id: 'their-tenant' }, settings)).toEqual({ ...expected, tenantId: 'their-tenant' });
    expect(resolveGraphIdentity({ refresh_token: 'rt' }, { ...settings, tenantId: '' })).toEqual({
      kind: 'delegated',
      tenantId: 'organizations',
      clientId: 'svc-app',
      clientSecret: 'svc-secret',
      refreshToken: 'rt',
    });
  });

  it('never pairs the connector\'s app id with the service\'s secret', () => {
    expect(() => resolveGraphIdentity({ client_id: 'own' }, settings)).toThrow(/"client_secret"/);
    expect(() => resolveGraphIdentity({ client_secret: 'orphan' }, settings)).toThrow(/"client_id"/);
  });

  it('names what is missing, without echoing secrets', () => {
    expect(configError({ drive_id: 'd' }, none).message).toContain('MS_GRAPH_CLIENT_ID');
    expect(configError({ drive_id: 'd' }, { ...none, clientId: 'app' }).message).toContain('MS_GRAPH_CLIENT_SECRET');
    expect(configError({ drive_id: 'd' }, { ...none, clientId: 'app', clientSecret: 's3cr3t' }).message).toMatch(/MS_GRAPH_TENANT_ID(?!.*s3cr3t)/);
    expect(configError({ drive_id: 'd', refresh_token: 5 }).message).toContain('"refresh_token" must be a string');
  });
});
