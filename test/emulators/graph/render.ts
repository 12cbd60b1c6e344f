import type { GraphStore, StoredItem } from './store.js';

/**
 * driveItem JSON as Graph shapes it. Delta leaves `parentReference.path` out,
 * and a tombstone carries little more than its id and the `deleted` facet.
 */

export type Json = Record<string, unknown>;

export function renderItem(store: GraphStore, item: Readonly<StoredItem>, options: { inDelta: boolean }): Json {
  const drive = store.drives.get(item.driveId);
  const parentReference: Json | undefined =
    item.parentId === null
      ? undefined
      : {
          driveId: item.driveId,
          driveType: drive?.driveType,
          id: item.parentId,
          ...(options.inDelta ? {} : { path: `/drives/${item.driveId}/root:${parentPath(store, item)}` }),
        };
  if (item.deleted) return { id: item.id, deleted: { state: 'deleted' }, ...(parentReference ? { parentReference } : {}) };

  // Delta on OneDrive for Business and SharePoint leaves cTag out ("cTag: not returned" in the
  // Remarks table of https://learn.microsoft.com/en-us/graph/api/driveitem-delta); personal OneDrive,
  // /children, item GETs and /shares return it.
  const withCTag = !(options.inDelta && drive?.driveType !== 'personal');
  const json: Json = {
    id: item.id,
    name: item.name,
    eTag: `"{${item.id}},${item.version}"`,
    ...(withCTag ? { cTag: `"c:{${item.id}},${item.contentVersion}"` } : {}),
    lastModifiedDateTime: item.lastModified,
    size: item.kind === 'file' ? item.content.length : sizeOf(store, item),
    webUrl: `https://contoso.example/Shared%20Documents${item.kind === 'root' ? '' : encodeURI(store.pathOf(item))}`,
    createdBy: { user: { displayName: 'Emulated User' } },
  };
  if (parentReference) json.parentReference = parentReference;
  switch (item.kind) {
    case 'root':
      json.root = {};
      json.folder = { childCount: store.children(item.id).length };
      break;
    case 'folder':
      json.folder = { childCount: store.children(item.id).length };
      break;
    case 'package':
      json.package = { type: 'oneNote' };
      break;
    case 'file':
      json.file = {
        ...(item.mimeType ? { mimeType: item.mimeType } : {}),
        hashes: item.withoutHash ? {} : { quickXorHash: store.quickXorHash(item) },
      };
      // https://learn.microsoft.com/en-us/graph/api/resources/malware: present when the scan flagged the file.
      if (item.malware) json.malware = { description: 'Trojan:Win32/Emulated' };
      break;
  }
  return json;
}

function parentPath(store: GraphStore, item: Readonly<StoredItem>): string {
  const parent = item.parentId ? store.item(item.parentId) : undefined;
  return !parent || parent.kind === 'root' ? '' : store.pathOf(parent);
}

function sizeOf(store: GraphStore, item: Readonly<StoredItem>): number {
  return store.children(item.id).reduce((sum, child) => sum + (child.kind === 'file' ? child.content.length : sizeOf(store, child)), 0);
}

/** Applies `$select` (Graph returns only the named properties). */
export function select(json: Json, fields: string | null): Json {
  if (!fields) return json;
  const wanted = new Set(fields.split(',').map((f) => f.trim()));
  return Object.fromEntries(Object.entries(json).filter(([key]) => wanted.has(key)));
}
