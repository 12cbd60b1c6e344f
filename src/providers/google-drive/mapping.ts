import { resolveContentType } from '../../contract.js';
import { noExportReason } from '../../../workflows/skip-reasons.js';
import type { SourceChange, SourceItem } from '../types.js';
import type { DriveFile } from './api.js';
import { extensionFor, GOOGLE_APPS, GOOGLE_APPS_PREFIX, withExtension, type ExportFormats } from './export-formats.js';

/**
 * A Drive file as EchoMind stores it. Google-native files are stored as their
 * export (DOCX, PPTX, PDF…), so name, type and signature describe the export,
 * never the `application/vnd.google-apps.*` original the ingestor would reject.
 */

/** How openContent fetches the bytes (travels through Temporal history: JSON, no URL that grants access). */
export interface DriveFetch {
  fileId: string;
  /** Export MIME type, for Google-native files. */
  export?: string;
  /** The file's `exportLinks[export]`: used when files.export refuses a file over 10 MB. Needs our bearer token. */
  exportLink?: string;
  /** A link-shared file's resource key, sent in `X-Goog-Drive-Resource-Keys` (not a secret on its own: it needs our token too). */
  resourceKey?: string;
}

const fetchOf = (file: DriveFile): DriveFetch => ({ fileId: file.id, ...(file.resourceKey ? { resourceKey: file.resourceKey } : {}) });

export const isFolder = (file: DriveFile): boolean => file.mimeType === GOOGLE_APPS.folder;
export const isShortcut = (file: DriveFile): boolean => file.mimeType === GOOGLE_APPS.shortcut;
export const isGoogleNative = (mimeType: string): boolean => mimeType.startsWith(GOOGLE_APPS_PREFIX);

function nativeItem(file: DriveFile, exportMime: string): SourceItem {
  const fetch: DriveFetch = { ...fetchOf(file), export: exportMime };
  const link = file.exportLinks?.[exportMime];
  if (link) fetch.exportLink = link;
  const extension = extensionFor(exportMime);
  return {
    sourceId: file.id,
    name: withExtension(file.name, extension),
    // `modifiedTime` is "the last time the file was modified by anyone"; `version` also moves on
    // sharing edits and moves ("every change made to the file on the server, even those not
    // visible to the user"), and Docs have no md5Checksum or headRevisionId. The export type is
    // part of it, because changing export_formats must fetch new bytes, not rename the old ones.
    signature: file.modifiedTime ? `mt:${file.modifiedTime}:${extension ?? exportMime}` : `v:${file.version ?? '0'}:${extension ?? exportMime}`,
    contentType: exportMime,
    ...(file.webViewLink ? { webUrl: file.webViewLink } : {}),
    fetch: { ...fetch },
  };
}

function binaryItem(file: DriveFile): SourceItem {
  const size = file.size === undefined ? undefined : Number(file.size);
  const signature = file.md5Checksum
    ? `md5:${file.md5Checksum}`
    : file.version
      ? `v:${file.version}`
      : `modified:${file.modifiedTime ?? ''}`;
  const fetch = fetchOf(file);
  return {
    sourceId: file.id,
    name: file.name,
    signature,
    contentType: resolveContentType(file.name, file.mimeType),
    ...(size !== undefined && Number.isFinite(size) ? { size } : {}),
    ...(file.webViewLink ? { webUrl: file.webViewLink } : {}),
    fetch: { ...fetch },
  };
}

/**
 * An upsert, or a skip with its reason for Google types that have no export
 * (forms, sites, maps…). Folders and shortcuts are handled by the walk, not here.
 */
export function mapDriveFile(file: DriveFile, formats: ExportFormats): SourceChange {
  const restricted = downloadRestriction(file);
  if (restricted) return { kind: 'skip', sourceId: file.id, name: file.name, reason: restricted };
  if (isGoogleNative(file.mimeType)) {
    const exportMime = formats[file.mimeType];
    if (!exportMime) return { kind: 'skip', sourceId: file.id, name: file.name, reason: noExportReason(file.mimeType) };
    return { kind: 'upsert', item: nativeItem(file, exportMime) };
  }
  return { kind: 'upsert', item: binaryItem(file) };
}

/**
 * Downloads turned off for this identity: `capabilities.canDownload` false, or
 * an effective restriction (item settings and DLP rules) for readers and writers
 * alike. Such a file answers 403 `cannotDownloadFile` on every try: skipped with
 * a reason rather than retried.
 */
function downloadRestriction(file: DriveFile): string | null {
  const effective = file.downloadRestrictions?.effectiveDownloadRestrictionWithContext;
  if (file.capabilities?.canDownload === false) return 'download restricted: the owner or an admin does not allow this identity to download or export the file';
  if (effective?.restrictedForReaders && effective.restrictedForWriters) return 'download restricted: downloads are turned off for this file (item setting or DLP rule)';
  return null;
}

/** Reads `SourceItem.fetch` back; null when it is not one of ours. */
export function readDriveFetch(fetch: Record<string, unknown>): DriveFetch | null {
  if (typeof fetch.fileId !== 'string' || fetch.fileId === '') return null;
  const result: DriveFetch = { fileId: fetch.fileId };
  if (typeof fetch.export === 'string' && fetch.export !== '') result.export = fetch.export;
  if (typeof fetch.exportLink === 'string' && fetch.exportLink !== '') result.exportLink = fetch.exportLink;
  if (typeof fetch.resourceKey === 'string' && fetch.resourceKey !== '') result.resourceKey = fetch.resourceKey;
  return result;
}
