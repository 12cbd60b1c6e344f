import { resolveContentType } from '../../../contract.js';
import type { SourceChange, SourceItem } from '../../types.js';
import type { DriveItem } from './api.js';

/** How openContent finds an item's bytes again: ids only, never the short-lived download URL. */
export interface DriveItemRef {
  driveId: string;
  itemId: string;
}

/**
 * The change-detection value, with its kind in front (`quickXorHash:…`), so that
 * values of two kinds never pass for each other. A content hash comes first:
 * every way of listing a file (delta, `/children`, an item GET, `/shares`)
 * returns it when Graph has it, whereas delta on OneDrive for Business and
 * SharePoint leaves `cTag` out (driveitem-delta, Remarks). `cTag` changes with
 * the content only; `eTag` changes with renames too and is the last resort
 * (changes.ts asks for the cTag before a file falls back to it).
 */
export function driveItemSignature(item: DriveItem): string | undefined {
  const hashes = item.file?.hashes;
  if (hashes?.quickXorHash) return `quickXorHash:${hashes.quickXorHash}`;
  if (hashes?.sha256Hash) return `sha256:${hashes.sha256Hash}`;
  if (item.cTag) return `cTag:${item.cTag}`;
  if (item.eTag) return `eTag:${item.eTag}`;
  return undefined;
}

/** Graph gave neither a hash nor a cTag: the only signature left would change on a rename. */
export function lacksContentSignature(item: DriveItem): boolean {
  return item.file !== undefined && !item.deleted && !item.file.hashes?.quickXorHash && !item.file.hashes?.sha256Hash && !item.cTag;
}

export const MALWARE_REASON = 'Microsoft flagged this file as malware and will not serve its bytes';

/** A live file as a SourceItem, or a skip when it is not a file or Graph left out what we need to track it. */
export function fileChange(item: DriveItem, driveId: string): SourceChange {
  // e.g. a remoteItem (a shared item added to this drive), whose bytes live in another drive.
  if (item.file === undefined) return { kind: 'skip', sourceId: item.id, name: item.name, reason: 'not a file of this drive' };
  if (item.malware !== undefined) return { kind: 'skip', sourceId: item.id, name: item.name, reason: MALWARE_REASON };
  const signature = driveItemSignature(item);
  if (item.name === undefined || signature === undefined) {
    return { kind: 'skip', sourceId: item.id, name: item.name, reason: 'Graph sent this file without a name or a change tag' };
  }
  const fetch: DriveItemRef = { driveId: item.parentReference?.driveId ?? driveId, itemId: item.id };
  const sourceItem: SourceItem = {
    sourceId: item.id,
    name: item.name,
    signature,
    contentType: resolveContentType(item.name, item.file.mimeType),
    size: item.size,
    webUrl: item.webUrl,
    fetch: { ...fetch },
  };
  return { kind: 'upsert', item: sourceItem };
}
