import { z } from 'zod';
import { SourceProtocolError } from '../../../errors.js';

/**
 * The parts of Graph's driveItem and its collection pages that we read, checked
 * on arrival: a page that breaks these promises is a protocol error, not a
 * reason to guess.
 */

const driveItem = z.object({
  id: z.string().min(1),
  name: z.string().optional(),
  size: z.number().optional(),
  eTag: z.string().optional(),
  cTag: z.string().optional(),
  webUrl: z.string().optional(),
  lastModifiedDateTime: z.string().optional(),
  file: z
    .object({
      mimeType: z.string().optional(),
      hashes: z.object({ quickXorHash: z.string().optional(), sha256Hash: z.string().optional() }).optional(),
    })
    .optional(),
  /** Set when the malware scan flagged the file: Graph will not serve its bytes. */
  malware: z.object({ description: z.string().optional() }).optional(),
  folder: z.object({}).optional(),
  package: z.object({}).optional(),
  root: z.object({}).optional(),
  deleted: z.object({}).optional(),
  parentReference: z.object({ driveId: z.string().optional(), id: z.string().optional() }).optional(),
});

const driveItemPage = z.object({
  value: z.array(driveItem),
  '@odata.nextLink': z.string().optional(),
  '@odata.deltaLink': z.string().optional(),
});

export type DriveItem = z.infer<typeof driveItem>;
export type DriveItemPage = z.infer<typeof driveItemPage>;

/** The fields every listing asks for (`$select`), so pages stay small. */
export const DRIVE_ITEM_FIELDS = 'id,name,size,file,folder,package,deleted,parentReference,lastModifiedDateTime,cTag,eTag,webUrl,root,malware';
export const PAGE_SIZE = 200;

export function readDriveItem(data: unknown, what: string): DriveItem {
  const parsed = driveItem.safeParse(data);
  if (!parsed.success) throw new SourceProtocolError(`${what} did not answer a driveItem: ${parsed.error.issues[0]?.message ?? 'bad shape'}`);
  return parsed.data;
}

export function readDriveItemPage(data: unknown, what: string): DriveItemPage {
  const parsed = driveItemPage.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SourceProtocolError(`${what} answered a page Graph would not send (${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'bad shape'})`);
  }
  return parsed.data;
}

/** Folders, OneNote notebooks (packages) and the root hold items; they are never stored themselves. */
export function isContainer(item: DriveItem): boolean {
  return item.folder !== undefined || item.package !== undefined || item.root !== undefined;
}

/** An item may appear more than once in a page; the last occurrence is its current state. */
export function lastOccurrences(items: readonly DriveItem[]): DriveItem[] {
  const byId = new Map<string, DriveItem>();
  for (const item of items) {
    byId.delete(item.id);
    byId.set(item.id, item);
  }
  return [...byId.values()];
}
