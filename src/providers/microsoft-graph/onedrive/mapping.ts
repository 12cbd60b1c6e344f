import { resolveContentType } from '../../../contract.js';
import type { SourceChange, SourceItem } from '../../types.js';
import type { DriveItem } from './api.js';

/** How openContent finds an item's bytes again: ids only, never the short-lived download URL. */
export interface DriveItemRef {
  driveId: string;
  itemId: string;
}

/**
 * The change-detection value. `cTag` changes with the content only, so a rename
 * or a move keeps it and does not re-download; `eTag` changes with metadata too
 * and is the last resort.
 */
export function driveItemSignature(item: DriveItem): string | undefined {
  return item.cTag ?? item.file?.hashes?.quickXorHash ?? item.eTag;
}

/** A live file as a SourceItem, or a skip when it is not a file or Graph left out what we need to track it. */
export function fileChange(item: DriveItem, driveId: string): SourceChange {
  // e.g. a remoteItem (a shared item added to this drive), whose bytes live in another drive.
  if (item.file === undefined) return { kind: 'skip', sourceId: item.id, name: item.name, reason: 'not a file of this drive' };
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
