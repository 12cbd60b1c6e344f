import type { Readable } from 'node:stream';
import type { ConnectorRow } from '../db/schema.js';
import type { SourceHttp, SourceHttpOptions } from '../http/source-http.js';
import type { Logger } from '../logger.js';
import type { SourceMemory } from './source-memory.js';

/**
 * The contract between the sync pipeline and a source (OneDrive, Google Drive,
 * Teams). A source is a small core (list a page of changes, open one item's
 * bytes) plus optional capabilities. Everything crossing this boundary is plain
 * JSON, because pages and items travel through Temporal history.
 */

/** What a source reports about one file it wants stored. */
export interface SourceItem {
  /** Stable id at the source; the `documents.source_id`. */
  sourceId: string;
  /** File name as stored (with the extension of the stored bytes). */
  name: string;
  /** Change-detection value (`cTag`, `md5Checksum`, `version`…). Same signature ⇒ same bytes. */
  signature: string;
  /** MIME type of the bytes that will be stored (exported type for native files). */
  contentType: string;
  /** Size in bytes when the source knows it. */
  size?: number;
  /** Web link for a person (`documents.original_url`). */
  webUrl?: string;
  /** Provider-specific, JSON-safe description of how to fetch the bytes; never a pre-authenticated URL. */
  fetch: Record<string, unknown>;
}

export type SourceChange =
  | { kind: 'upsert'; item: SourceItem }
  | { kind: 'delete'; sourceId: string }
  /** Seen, but not stored: folders are never reported; this is for counted reasons (forms, dangling shortcuts…). */
  | { kind: 'skip'; sourceId: string; name?: string; reason: string }
  /**
   * A part of the source that could not be read this time (a Teams channel the app is refused): recorded
   * as a failure with its reason, retried by the source's next pass (not by the failed-files retry). A
   * later `delete` of the same source id clears the record.
   */
  | { kind: 'fail'; sourceId: string; name?: string; reason: string; code?: string };

/** A provider's cursor: JSON, validated by the provider when loaded. */
export type ChangeCursor = Record<string, unknown>;

export interface ChangePage<C extends ChangeCursor = ChangeCursor> {
  changes: SourceChange[];
  /** Where the next page starts. Saved only after every change of this page is durable. */
  cursor: C;
  /** More pages are ready now (false once the source says "caught up"). */
  hasMore: boolean;
  /**
   * This page is part of a full enumeration (first sync, or after an expired cursor):
   * every item of the scope appears in some page of it, so after its last page the
   * pipeline may delete what it did not see.
   */
  fullEnumeration: boolean;
  /** With fullEnumeration: this is the last page of it. */
  enumerationComplete?: boolean;
  /**
   * With enumerationComplete: the enumeration covered only the items whose source id
   * starts with one of these (e.g. one Teams channel listed again), so only they may be
   * swept. Absent: the whole scope.
   */
  sweepOnly?: string[];
  /** Parts of the scope (Teams channels) this page began listing again because the source refused their saved cursor. */
  relisted?: number;
}

/** Where a source writes back rotated credentials, so the next sync can use them. */
export interface CredentialStore {
  /** Merges fields into `connectors.config` (e.g. a rotated refresh token). */
  updateConnectorConfig(patch: Record<string, unknown>): Promise<void>;
}

/** Folder ancestry kept in `connector_sync.source_folders`, for scoping changes by ancestry. */
export interface FolderTree {
  get(folderId: string): Promise<{ parentId: string | null; inScope: boolean } | null>;
  put(folders: Array<{ folderId: string; parentId: string | null; inScope: boolean }>): Promise<void>;
  remove(folderIds: string[]): Promise<void>;
  clear(): Promise<void>;
}

/**
 * Every listed item's parent, per listing scope (`connector_sync.source_items`): a deleted folder's
 * stored descendants are found here, since a source may send the folder's tombstone alone.
 */
export interface ItemParents {
  /**
   * Records live items; answers the folders among them recorded deleted (restored since). Such a
   * folder stays marked until `revive`, so a page listed again answers the same.
   */
  record(scope: string, items: ItemParentRecord[]): Promise<string[]>;
  /**
   * Marks the items and everything below them deleted; answers the items below, and which of the
   * items themselves were recorded as folders. Listed again, a page gets the same answer.
   */
  removeSubtrees(scope: string, itemIds: string[]): Promise<{ below: Array<{ itemId: string; folder: boolean }>; folders: string[] }>;
  /** The folders' restore has been acted on (their relisting began). */
  revive(scope: string, folderIds: string[]): Promise<void>;
  /** Also clears the scope's relist queues. */
  clear(scope: string): Promise<void>;
  /** Folders of the same listing whose subtree is to be walked again (`connector_sync.relist_tasks`). */
  readonly relists: RelistQueue;
}

/** A folder whose subtree is to be listed again, and whether it now lies inside the scope. */
export interface RelistTaskRecord {
  folderId: string;
  parentId: string | null;
  inScope: boolean;
}

/**
 * Queues of folders to list again, per listing scope, each named by an id its listing chose and
 * ordered by position. Rows are written before the cursor naming them is committed, so every write
 * is safe to repeat: a page listed again writes the same positions again.
 */
export interface RelistQueue {
  /** Writes tasks at positions `from`, `from + 1`…; a folder already in this queue is left out. */
  append(scope: string, queueId: string, from: number, tasks: RelistTaskRecord[]): Promise<void>;
  /** The first task at or after position `from`, or null when none is left. */
  head(scope: string, queueId: string, from: number): Promise<(RelistTaskRecord & { seq: number }) | null>;
  /** Drops the scope's rows that the committed cursor no longer needs: other queues, and this one's before `before`. */
  prune(scope: string, keep: { queueId: string; before: number } | null): Promise<void>;
}

export interface ItemParentRecord {
  itemId: string;
  parentId: string | null;
  folder: boolean;
}

/** Everything a source needs for one call, built fresh per activity from the connector row. */
export interface SourceContext {
  connector: ConnectorRow;
  /** `connectors.config` parsed as JSON (the row is the truth, never the message). */
  config: Record<string, unknown>;
  /**
   * Builds the shared HTTP layer for this source's requests. The pipeline fills in
   * retry tuning and progress reporting; the source gives its tenant key (requests
   * that share a throttling budget), its token source and its error classifier.
   */
  makeHttp(options: Pick<SourceHttpOptions, 'tenantKey' | 'auth' | 'classify' | 'costs' | 'userAgent'>): SourceHttp;
  /** What the worker's sources remember between activities: tokens, tenant pauses, keys. */
  memory: SourceMemory;
  credentials: CredentialStore;
  folders: FolderTree;
  items: ItemParents;
  logger: Logger;
  signal?: AbortSignal;
}

export interface ItemContent {
  body: Readable;
  /** MIME type the source declared for these bytes, if any. */
  contentType?: string;
  /**
   * The body's exact length in bytes, when the response declared it for the bytes
   * this stream yields (the HTTP layer drops it for compressed responses): the
   * body then streams straight into the bucket, and a body of another length fails.
   */
  size?: number;
}

export interface SourceProvider<C extends ChangeCursor = ChangeCursor> {
  readonly type: 'onedrive' | 'google_drive' | 'teams';
  /** Validates the config once per run; throws PermanentSourceError naming the bad key. */
  validateConfig(config: Record<string, unknown>): void;
  /** Turns a stored cursor back into the typed one; null when absent or unusable (forces a full enumeration). */
  parseCursor(raw: unknown): C | null;
  /**
   * One page of changes from `cursor` (null: start a full enumeration).
   * Throws CursorExpiredError when the source rejects the cursor (410, invalid token).
   */
  listChanges(ctx: SourceContext, cursor: C | null): Promise<ChangePage<C>>;
  /** Opens the bytes of one item as a stream. */
  openContent(ctx: SourceContext, item: SourceItem): Promise<ItemContent>;
}
