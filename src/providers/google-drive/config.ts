import { z } from 'zod';
import { optionalFlag, optionalText, parseConnectorConfig } from '../connector-config.js';
import { fullEnumerationDaysKey } from '../full-enumeration.js';
import { DEFAULT_EXPORT_FORMATS, mergeExportFormats, type ExportFormats } from './export-formats.js';

/**
 * A Google Drive connector's `connectors.config`, checked once per run. Keys
 * this source does not know are left alone: EchoMind's UI stores its own there.
 */

export type DriveScope =
  /** The identity's whole My Drive (the default). */
  | { kind: 'my-drive' }
  /** One folder and everything below it, in My Drive or (with `driveId`) a shared drive. */
  | { kind: 'folder'; folderId: string; driveId?: string; resourceKey?: string }
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
  /** Days between periodic full enumerations (`full_enumeration_days`); 0: only when a cursor expires. */
  fullEnumerationDays: number;
  /** Forced choice of identity; unset: user OAuth when the user has credentials, else the service account. */
  auth?: 'service_account' | 'oauth';
  /** Workspace user a service account acts as (domain-wide delegation). */
  impersonate?: string;
  oauth: UserOAuthConfig;
}

/** Accepts a bare id or a pasted Drive URL (`…/folders/<id>`, `…?id=<id>`). */
function driveIdFrom(value: string): string {
  const fromPath = /\/(?:folders|drives)\/([A-Za-z0-9_-]+)/.exec(value);
  if (fromPath?.[1]) return fromPath[1];
  const fromQuery = /[?&]id=([A-Za-z0-9_-]+)/.exec(value);
  return fromQuery?.[1] ?? value;
}

const driveRef = optionalText.transform((value) => (value === undefined ? undefined : driveIdFrom(value)));

/**
 * A folder id, or a pasted folder URL with the `resourcekey` a link-shared
 * folder needs (Google's 2021 resource key update: `…/folders/<id>?resourcekey=<key>`).
 */
const folderRef = optionalText.transform((value) => {
  if (value === undefined) return undefined;
  const key = /[?&]resourcekey=([A-Za-z0-9_-]+)/i.exec(value)?.[1];
  return { id: driveIdFrom(value), ...(key ? { resourceKey: key } : {}) };
});

const email = optionalText.refine((value) => value === undefined || value.includes('@'), { error: "must be a Workspace user's email address" });

/** An ISO date or epoch milliseconds. */
const expiry = z.preprocess(
  (value) => (value === null || value === '' ? undefined : value),
  z
    .union([z.number(), z.string()], { error: 'must be an ISO date or epoch milliseconds' })
    .transform((value) => new Date(value))
    .refine((at) => !Number.isNaN(at.getTime()), { error: 'must be an ISO date or epoch milliseconds' })
    .optional(),
);

const driveConfigSchema = z
  .object({
    folder_id: folderRef,
    drive_id: driveRef,
    all_shared_drives: optionalFlag,
    export_formats: z.unknown().optional(),
    full_enumeration_days: fullEnumerationDaysKey,
    auth: z.preprocess(
      (value) => (value === null || value === '' ? undefined : value),
      z.enum(['service_account', 'oauth'], { error: 'must be "service_account" or "oauth"' }).optional(),
    ),
    impersonate_user: email,
    subject: email,
    refresh_token: optionalText,
    client_id: optionalText,
    client_secret: optionalText,
    access_token: optionalText,
    token_expires_at: expiry,
    expires_at: expiry,
  })
  .superRefine((config, issues) => {
    const refuse = (key: string, message: string) => issues.addIssue({ code: 'custom', path: [key], message });
    if (config.all_shared_drives && config.folder_id) refuse('all_shared_drives', 'cannot be combined with folder_id');
    if (config.all_shared_drives && config.drive_id) refuse('all_shared_drives', 'cannot be combined with drive_id');
    const formats = mergeExportFormats(config.export_formats);
    if (!formats.ok) refuse('export_formats', formats.error);
    if ((config.impersonate_user ?? config.subject) && config.auth === 'oauth') {
      refuse(config.impersonate_user ? 'impersonate_user' : 'subject', 'needs the service account; it cannot be combined with auth "oauth"');
    }
  })
  .transform((config): DriveConnectorConfig => {
    const formats = mergeExportFormats(config.export_formats);
    const impersonate = config.impersonate_user ?? config.subject;
    const expiresAt = config.token_expires_at ?? config.expires_at;
    return {
      scope: scopeOf(config),
      exportFormats: formats.ok ? formats.formats : DEFAULT_EXPORT_FORMATS,
      fullEnumerationDays: config.full_enumeration_days,
      ...(config.auth ? { auth: config.auth } : {}),
      ...(impersonate ? { impersonate } : {}),
      oauth: {
        ...(config.refresh_token ? { refreshToken: config.refresh_token } : {}),
        ...(config.client_id ? { clientId: config.client_id } : {}),
        ...(config.client_secret ? { clientSecret: config.client_secret } : {}),
        ...(config.access_token ? { accessToken: config.access_token } : {}),
        ...(expiresAt ? { accessTokenExpiresAt: expiresAt } : {}),
      },
    };
  });

function scopeOf(config: { folder_id?: { id: string; resourceKey?: string }; drive_id?: string; all_shared_drives?: boolean }): DriveScope {
  if (config.all_shared_drives) return { kind: 'all-shared-drives' };
  if (config.folder_id) {
    return {
      kind: 'folder',
      folderId: config.folder_id.id,
      ...(config.drive_id ? { driveId: config.drive_id } : {}),
      ...(config.folder_id.resourceKey ? { resourceKey: config.folder_id.resourceKey } : {}),
    };
  }
  if (config.drive_id) return { kind: 'shared-drive', driveId: config.drive_id };
  return { kind: 'my-drive' };
}

/** Throws PermanentSourceError (code invalidConfig, scope 'sync') naming the first bad key. */
export function parseDriveConfig(config: Record<string, unknown>): DriveConnectorConfig {
  return parseConnectorConfig(driveConfigSchema, config);
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
