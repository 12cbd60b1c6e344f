import { z } from 'zod';
import { optionalText, optionalWholeNumber, parseConnectorConfig } from '../../connector-config.js';
import { fullEnumerationDaysKey } from '../../full-enumeration.js';
import { graphSignInKeys } from '../identity.js';

/**
 * The `connectors.config` of a OneDrive/SharePoint connector.
 *
 * Which drive (at most one of):
 * - `drive_id`: any drive (OneDrive, a SharePoint document library, a Teams channel's library);
 * - `user_id` or `user_principal_name`: that user's OneDrive (`/users/{id}/drive`);
 * - `site_id`: a SharePoint site, as its composite id (`host,siteGuid,webGuid`) or its path
 *   (`contoso.sharepoint.com:/sites/marketing:`): every document library of the site, or the
 *   ones `libraries` names (a list, or one comma-separated string); with a folder key, the
 *   site's default library only;
 * - none: the signed-in user's OneDrive (`/me/drive`), delegated sign-in only.
 *
 * Which part of it (optional, at most one): `folder_id`, or `folder_path` relative
 * to the drive root (`/Projects/2026`). Absent: the whole drive.
 *
 * `page_size` (optional, 1–999, default 200): items per delta page, i.e. how much work
 * one checkpoint covers.
 *
 * `full_enumeration_days` (optional, 0–365, default 7; 0: never): how often a sync lists
 * everything again and sweeps what it did not see, the safety net for lost tombstones.
 *
 * Sign-in keys (`refresh_token`, `client_id`, `client_secret`, `tenant_id`) are the shared
 * Graph ones (../identity.ts); a refresh token without a drive key means "my drive".
 */
export type DriveTarget =
  | { kind: 'drive'; id: string }
  | { kind: 'user'; id: string }
  /** The site's default library (a folder scope inside it). */
  | { kind: 'site'; id: string }
  /** Several libraries of a site: all of them (`libraries` null) or those named. */
  | { kind: 'site-libraries'; id: string; libraries: string[] | null }
  | { kind: 'me' };

export type FolderScope = { kind: 'id'; id: string } | { kind: 'path'; path: string } | null;

export interface OneDriveConfig {
  target: DriveTarget;
  folder: FolderScope;
  pageSize: number;
  /** Days between full enumerations; 0: only when a cursor expires. */
  fullEnumerationDays: number;
}

export const DEFAULT_PAGE_SIZE = 200;

const TARGET_KEYS = ['drive_id', 'user_id', 'user_principal_name', 'site_id'] as const;

/** `/A/B/` → `A/B`; the drive root → ''. */
const folderPath = optionalText.refine((path) => path === undefined || !path.split('/').some((segment) => segment === '.' || segment === '..'), {
  error: 'must be a plain path from the drive root, without "." or ".."',
});

const libraryNames = z.preprocess(
  (value) => (typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value === null ? undefined : value),
  z
    .array(z.string({ error: 'must be a list of library names' }).trim().min(1, 'must not contain blank names'), { error: 'must be a list of library names' })
    .min(1, 'must name at least one library')
    .optional(),
);

const oneDriveConfigSchema = z
  .object({
    drive_id: optionalText,
    user_id: optionalText,
    user_principal_name: optionalText,
    site_id: optionalText,
    folder_id: optionalText,
    folder_path: folderPath,
    page_size: optionalWholeNumber(1, 999),
    libraries: libraryNames,
    full_enumeration_days: fullEnumerationDaysKey,
    ...graphSignInKeys,
  })
  .superRefine((config, issues) => {
    const given = TARGET_KEYS.filter((key) => config[key] !== undefined);
    const [chosen, another] = given;
    if (chosen && another) issues.addIssue({ code: 'custom', path: [another], message: `cannot be combined with "${chosen}": name one drive` });
    if (!chosen && config.refresh_token === undefined) {
      issues.addIssue({
        code: 'custom',
        path: ['drive_id'],
        message: 'is missing: set drive_id, user_id, user_principal_name or site_id (app-only sign-in has no "my drive")',
      });
    }
    if (config.folder_id !== undefined && config.folder_path !== undefined) {
      issues.addIssue({ code: 'custom', path: ['folder_path'], message: 'cannot be combined with "folder_id": name one folder' });
    }
    if (config.libraries !== undefined && config.site_id === undefined) {
      issues.addIssue({ code: 'custom', path: ['libraries'], message: 'names libraries of a site: set "site_id" too' });
    }
    if (config.libraries !== undefined && (config.folder_id !== undefined || config.folder_path !== undefined)) {
      issues.addIssue({ code: 'custom', path: ['libraries'], message: 'cannot be combined with a folder key: a folder lies in one library (name it with "drive_id")' });
    }
  })
  .transform(
    (config): OneDriveConfig => ({
      target: targetOf(config),
      folder: folderOf(config),
      pageSize: config.page_size ?? DEFAULT_PAGE_SIZE,
      fullEnumerationDays: config.full_enumeration_days,
    }),
  );

function targetOf(config: Partial<Record<(typeof TARGET_KEYS)[number] | 'folder_id' | 'folder_path', string>> & { libraries?: string[] }): DriveTarget {
  if (config.drive_id !== undefined) return { kind: 'drive', id: config.drive_id };
  if (config.site_id !== undefined) {
    const inFolder = config.folder_id !== undefined || (config.folder_path ?? '').split('/').some((segment) => segment !== '');
    return inFolder ? { kind: 'site', id: config.site_id } : { kind: 'site-libraries', id: config.site_id, libraries: config.libraries ? [...new Set(config.libraries)] : null };
  }
  const user = config.user_id ?? config.user_principal_name;
  return user !== undefined ? { kind: 'user', id: user } : { kind: 'me' };
}

function folderOf(config: { folder_id?: string; folder_path?: string }): FolderScope {
  if (config.folder_id !== undefined) return { kind: 'id', id: config.folder_id };
  const path = (config.folder_path ?? '').split('/').filter((segment) => segment !== '').join('/');
  return path === '' ? null : { kind: 'path', path };
}

/** Throws PermanentSourceError (code invalidConfig, scope 'sync') naming the first bad key. */
export function parseOneDriveConfig(config: Record<string, unknown>): OneDriveConfig {
  return parseConnectorConfig(oneDriveConfigSchema, config);
}

/**
 * What a cursor was made for. A cursor is only continued under the same scope:
 * pointing a connector elsewhere starts a fresh enumeration.
 */
export function scopeKey(config: OneDriveConfig): string {
  const { target, folder } = config;
  const drive =
    target.kind === 'me'
      ? 'me'
      : target.kind === 'site-libraries'
        ? `site:${target.id} libraries:${target.libraries?.map(encodeURIComponent).join(',') ?? '*'}`
        : `${target.kind}:${target.id}`;
  const part = folder === null ? 'all' : folder.kind === 'id' ? `folder:${folder.id}` : `path:/${folder.path}`;
  return `${drive} ${part}`;
}
