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
}

export const isFolder = (file: DriveFile): boolean => file.mimeType === GOOGLE_APPS.folder;
export const isShortcut = (file: DriveFile): boolean => file.mimeType === GOOGLE_APPS.shortcut;
export const isGoogleNative = (mimeType: string): boolean => mimeType.startsWith(GOOGLE_APPS_PREFIX);

function nativeItem(file: DriveFile, exportMime: string): SourceItem {
  const fetch: DriveFetch = { fileId: file.id, export: exportMime };
  const link = file.exportLinks?.[exportMime];
  if (link) fetch.exportLink = link;
  const extension = extensionFor(exportMime);
  return {
    sourceId: file.id,
    name: withExtension(file.name, extension),
    // `version` grows with every edit; the export type is part of it, because
    // changing export_formats must fetch new bytes, not rename the old ones.
    signature: `v:${file.version ?? file.modifiedTime ?? '0'}:${extension ?? exportMime}`,
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
  const fetch: DriveFetch = { fileId: file.id };
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
  if (isGoogleNative(file.mimeType)) {
    const exportMime = formats[file.mimeType];
    if (!exportMime) return { kind: 'skip', sourceId: file.id, name: file.name, reason: noExportReason(file.mimeType) };
    return { kind: 'upsert', item: nativeItem(file, exportMime) };
  }
  return { kind: 'upsert', item: binaryItem(file) };
}

/** Reads `SourceItem.fetch` back; null when it is not one of ours. */
export function readDriveFetch(fetch: Record<string, unknown>): DriveFetch | null {
  if (typeof fetch.fileId !== 'string' || fetch.fileId === '') return null;
  const result: DriveFetch = { fileId: fetch.fileId };
  if (typeof fetch.export === 'string' && fetch.export !== '') result.export = fetch.export;
  if (typeof fetch.exportLink === 'string' && fetch.exportLink !== '') result.exportLink = fetch.exportLink;
  return result;
}
