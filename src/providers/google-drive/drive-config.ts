import { PermanentSourceError } from '../../errors.js';
import { DEFAULT_EXPORT_FORMATS, mergeExportFormats, type ExportFormats } from './export-formats.js';

/**
 * A Google Drive connector's `connectors.config`, checked once per run. Keys
 * this source does not know are left alone: EchoMind's UI stores its own there.
 */

export type DriveScope =
  /** The identity's whole My Drive (the default). */
  | { kind: 'my-drive' }
  /** One folder and everything below it, in My Drive or (with `driveId`) a shared drive. */
  | { kind: 'folder'; folderId: string; driveId?: string }
  | { kind: 'shared-drive'; driveId: string }
  /** Every shared drive the identity is a member of, plus its My Drive. */
  | { kind: 'all-shared-drives' };

export interface UserOAuthConfig {
  refreshToken?: string;
  clientId?: string;
  clientSecret?: string;
  accessToken?: string;
  accessTokenExpiresAt?: Date;
}

export interface DriveConnectorConfig {
  scope: DriveScope;
  exportFormats: ExportFormats;
  /** Forced choice of identity; unset: user OAuth when the user has credentials, else the service account. */
  auth?: 'service_account' | 'oauth';
  /** Workspace user a service account acts as (domain-wide delegation). */
  impersonate?: string;
  oauth: UserOAuthConfig;
}

function configError(message: string): PermanentSourceError {
  return new PermanentSourceError(`Google Drive connector config: ${message}`, 'invalidConfig', 'sync');
}

function invalid(key: string, problem: string): PermanentSourceError {
  return configError(`${key} ${problem}`);
}

function optionalString(config: Record<string, unknown>, key: string, secret = false): string | undefined {
  const value = config[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid(key, secret ? 'must be a non-empty string' : `must be a non-empty string (got ${JSON.stringify(value)})`);
  }
  return value.trim();
}

function optionalBoolean(config: Record<string, unknown>, key: string): boolean {
  const value = config[key];
  if (value === undefined || value === null || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw invalid(key, `must be true or false (got ${JSON.stringify(value)})`);
}

/** Accepts a bare id or a pasted Drive URL (`…/folders/<id>`, `…?id=<id>`). */
function driveIdFrom(value: string): string {
  const fromPath = /\/(?:folders|drives)\/([A-Za-z0-9_-]+)/.exec(value);
  if (fromPath?.[1]) return fromPath[1];
  const fromQuery = /[?&]id=([A-Za-z0-9_-]+)/.exec(value);
  return fromQuery?.[1] ?? value;
}

function readExpiry(config: Record<string, unknown>): Date | undefined {
  const raw = config.token_expires_at ?? config.expires_at;
  if (raw === undefined || raw === null || raw === '') return undefined;
  const at = typeof raw === 'number' ? new Date(raw) : typeof raw === 'string' ? new Date(raw) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) throw invalid('token_expires_at', 'must be an ISO date or epoch milliseconds');
  return at;
}

function readScope(config: Record<string, unknown>): DriveScope {
  const folderId = optionalString(config, 'folder_id');
  const driveId = optionalString(config, 'drive_id');
  const allDrives = optionalBoolean(config, 'all_shared_drives');
  if (allDrives && folderId) throw invalid('all_shared_drives', 'cannot be combined with folder_id');
  if (allDrives && driveId) throw invalid('all_shared_drives', 'cannot be combined with drive_id');
  if (allDrives) return { kind: 'all-shared-drives' };
  if (folderId) return { kind: 'folder', folderId: driveIdFrom(folderId), ...(driveId ? { driveId: driveIdFrom(driveId) } : {}) };
  if (driveId) return { kind: 'shared-drive', driveId: driveIdFrom(driveId) };
  return { kind: 'my-drive' };
}

export function parseDriveConfig(config: Record<string, unknown>): DriveConnectorConfig {
  const scope = readScope(config);
  const formats = mergeExportFormats(config.export_formats);
  if (!formats.ok) throw configError(formats.error);

  const auth = config.auth;
  if (auth !== undefined && auth !== null && auth !== 'service_account' && auth !== 'oauth') {
    throw invalid('auth', `must be "service_account" or "oauth" (got ${JSON.stringify(auth)})`);
  }
  const impersonate = optionalString(config, 'impersonate_user') ?? optionalString(config, 'subject');
  if (impersonate && !impersonate.includes('@')) {
    throw invalid(config.impersonate_user ? 'impersonate_user' : 'subject', `must be a Workspace user's email address (got ${JSON.stringify(impersonate)})`);
  }
  if (impersonate && auth === 'oauth') {
    throw invalid('impersonate_user', 'needs the service account; it cannot be combined with auth "oauth"');
  }

  const oauth: UserOAuthConfig = {};
  const refreshToken = optionalString(config, 'refresh_token', true);
  const clientId = optionalString(config, 'client_id');
  const clientSecret = optionalString(config, 'client_secret', true);
  const accessToken = optionalString(config, 'access_token', true);
  const expiresAt = readExpiry(config);
  if (refreshToken) oauth.refreshToken = refreshToken;
  if (clientId) oauth.clientId = clientId;
  if (clientSecret) oauth.clientSecret = clientSecret;
  if (accessToken) oauth.accessToken = accessToken;
  if (expiresAt) oauth.accessTokenExpiresAt = expiresAt;

  return {
    scope,
    exportFormats: formats.formats,
    ...(auth === 'service_account' || auth === 'oauth' ? { auth } : {}),
    ...(impersonate ? { impersonate } : {}),
    oauth,
  };
}

/** A short, stable name of the scope: a cursor taken for another scope is not reused. */
export function scopeKey(scope: DriveScope): string {
  switch (scope.kind) {
    case 'my-drive':
      return 'my-drive';
    case 'folder':
      return `folder:${scope.folderId}`;
    case 'shared-drive':
      return `drive:${scope.driveId}`;
    case 'all-shared-drives':
      return 'all-shared-drives';
  }
}

/**
 * What a saved cursor is valid for: the scope, plus the export formats that
 * differ from the defaults. A changed `export_formats` thus enumerates the
 * scope once more, so Google files already stored are exported again in the
 * new format (their signature carries the format); binary files are not
 * downloaded again. Connectors on the defaults keep the plain scope key.
 */
export function cursorKey(config: Pick<DriveConnectorConfig, 'scope' | 'exportFormats'>): string {
  const overrides = Object.entries(config.exportFormats)
    .filter(([native, mime]) => DEFAULT_EXPORT_FORMATS[native] !== mime)
    .map(([native, mime]) => `${native}=${mime}`)
    .sort();
  const scope = scopeKey(config.scope);
  return overrides.length === 0 ? scope : `${scope}|export:${overrides.join(',')}`;
}
