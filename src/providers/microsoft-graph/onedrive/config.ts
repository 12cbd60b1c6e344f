import { invalidConfig, optionalConfigString } from '../config-keys.js';

/**
 * The `connectors.config` of a OneDrive/SharePoint connector.
 *
 * Which drive (at most one of):
 * - `drive_id`: any drive (OneDrive, a SharePoint document library, a Teams channel's library);
 * - `user_id` or `user_principal_name`: that user's OneDrive (`/users/{id}/drive`);
 * - `site_id`: a SharePoint site's default library (`/sites/{id}/drive`);
 * - none: the signed-in user's OneDrive (`/me/drive`), delegated sign-in only.
 *
 * Which part of it (optional, at most one): `folder_id`, or `folder_path` relative
 * to the drive root (`/Projects/2026`). Absent: the whole drive.
 *
 * `page_size` (optional, 1–999, default 200): items per delta page, i.e. how much work
 * one checkpoint covers.
 *
 * Sign-in keys (`refresh_token`, `client_id`, `client_secret`, `tenant_id`) are read by identity.ts.
 */
export type DriveTarget =
  | { kind: 'drive'; id: string }
  | { kind: 'user'; id: string }
  | { kind: 'site'; id: string }
  | { kind: 'me' };

export type FolderScope = { kind: 'id'; id: string } | { kind: 'path'; path: string } | null;

export interface OneDriveConfig {
  target: DriveTarget;
  folder: FolderScope;
  pageSize: number;
}

export const DEFAULT_PAGE_SIZE = 200;

function readPageSize(config: Record<string, unknown>): number {
  const raw = config.page_size;
  if (raw === undefined || raw === null || raw === '') return DEFAULT_PAGE_SIZE;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 999) throw invalidConfig('page_size', 'must be a whole number from 1 to 999');
  return n;
}

const TARGET_KEYS = ['drive_id', 'user_id', 'user_principal_name', 'site_id'] as const;

function readTarget(config: Record<string, unknown>): DriveTarget {
  const given = TARGET_KEYS.flatMap((key) => {
    const value = optionalConfigString(config, key);
    return value === undefined ? [] : [{ key, value }];
  });
  const [chosen, another] = given;
  if (chosen && another) throw invalidConfig(another.key, `cannot be combined with "${chosen.key}": name one drive`);
  if (!chosen) {
    if (optionalConfigString(config, 'refresh_token') !== undefined) return { kind: 'me' };
    throw invalidConfig('drive_id', 'is missing: set drive_id, user_id, user_principal_name or site_id (app-only sign-in has no "my drive")');
  }
  switch (chosen.key) {
    case 'drive_id':
      return { kind: 'drive', id: chosen.value };
    case 'site_id':
      return { kind: 'site', id: chosen.value };
    default:
      return { kind: 'user', id: chosen.value };
  }
}

/** `/A/B/` → `A/B`; the drive root → ''. Refuses `.`/`..` segments, which Graph would not resolve as a path. */
function normalizeFolderPath(raw: string): string {
  const segments = raw.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw invalidConfig('folder_path', 'must be a plain path from the drive root, without "." or ".."');
  }
  return segments.join('/');
}

function readFolder(config: Record<string, unknown>): FolderScope {
  const id = optionalConfigString(config, 'folder_id');
  const rawPath = optionalConfigString(config, 'folder_path');
  if (id !== undefined && rawPath !== undefined) throw invalidConfig('folder_path', 'cannot be combined with "folder_id": name one folder');
  if (id !== undefined) return { kind: 'id', id };
  if (rawPath === undefined) return null;
  const path = normalizeFolderPath(rawPath);
  return path === '' ? null : { kind: 'path', path };
}

/** Throws PermanentSourceError (scope 'sync') naming the first bad key. */
export function parseOneDriveConfig(config: Record<string, unknown>): OneDriveConfig {
  return { target: readTarget(config), folder: readFolder(config), pageSize: readPageSize(config) };
}

/**
 * What a cursor was made for. A cursor is only continued under the same scope:
 * pointing a connector elsewhere starts a fresh enumeration.
 */
export function scopeKey(config: OneDriveConfig): string {
  const { target, folder } = config;
  const drive = target.kind === 'me' ? 'me' : `${target.kind}:${target.id}`;
  const part = folder === null ? 'all' : folder.kind === 'id' ? `folder:${folder.id}` : `path:/${folder.path}`;
  return `${drive} ${part}`;
}
