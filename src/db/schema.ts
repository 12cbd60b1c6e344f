import type { ColumnType, Generated, Selectable } from 'kysely';

/**
 * EchoMind's tables as this service sees them, with EchoMind's exact columns.
 * In production EchoMind's migration service owns them; our migrations only
 * recreate them for local runs and tests. `connector_sync` is this service's own schema.
 */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string | null>;
type Json<T = Record<string, unknown>> = ColumnType<T, string | T, string | T>;

export interface UsersTable {
  id: Generated<number>;
  email: string | null;
}

export interface TeamsTable {
  id: Generated<number>;
  name: string;
}

export interface GoogleCredentialsTable {
  id: Generated<number>;
  user_id: number;
  access_token: string | null;
  refresh_token: string | null;
  token_expires_at: Timestamp | null;
  granted_scopes: string[] | null;
  client_id: string | null;
  client_secret: string | null;
  creation_date: Generated<Date>;
  last_update: Timestamp | null;
}

export interface ConnectorsTable {
  id: Generated<number>;
  name: string;
  /** teams, google_drive, onedrive, web, file, gmail, google_calendar, google_contacts. */
  type: string;
  config: Json;
  state: ColumnType<Record<string, unknown>, string | undefined, string>;
  refresh_freq_minutes: number | null;
  user_id: number;
  /** user, team, group or org. */
  scope: ColumnType<string, string | undefined, string>;
  scope_id: string | null;
  team_id: number | null;
  google_credential_id: number | null;
  /** pending, syncing, active, error or disabled. */
  status: ColumnType<string, string | undefined, string>;
  status_message: string | null;
  last_sync_at: Timestamp | null;
  docs_analyzed: ColumnType<string, number | string | undefined, number | string>;
  creation_date: Generated<Date>;
  last_update: Timestamp | null;
  user_id_last_update: number | null;
  deleted_date: Timestamp | null;
}

export interface DocumentsTable {
  id: Generated<string>;
  parent_id: string | null;
  connector_id: number;
  source_id: string;
  url: string | null;
  original_url: string | null;
  title: string | null;
  content_type: string | null;
  signature: string | null;
  chunking_session: string | null;
  /** pending, processing, completed, error or deleted. */
  status: ColumnType<string, string | undefined, string>;
  status_message: string | null;
  chunk_count: ColumnType<number, number | undefined, number>;
  creation_date: Generated<Date>;
  last_update: Timestamp | null;
  user_id_last_update: number | null;
}

/** Items a full enumeration saw, so the sweep after it deletes only what is proven gone. */
export interface EnumerationMarksTable {
  connector_id: number;
  source_id: string;
  generation: string;
}

/** Folder ancestry per connector, so changes can be scoped by ancestry without re-listing. */
export interface SourceFoldersTable {
  connector_id: number;
  folder_id: string;
  parent_id: string | null;
  in_scope: boolean;
}

/** Every listed item's parent, per listing scope (a drive and folder), for expanding folder deletes. */
export interface SourceItemsTable {
  connector_id: number;
  scope: string;
  item_id: string;
  parent_id: string | null;
  folder: Generated<boolean>;
  gone: Generated<boolean>;
}

/** Folders whose subtree a listing walks again, per listing scope and queue, in order of `seq`. */
export interface RelistTasksTable {
  connector_id: number;
  scope: string;
  queue_id: string;
  seq: number;
  folder_id: string;
  parent_id: string | null;
  in_scope: boolean;
}

/** Per document: the latest stored version's signature and number, and when its message went out (null: not yet). */
export interface PublishedVersionsTable {
  document_id: string;
  signature: string;
  version: Generated<number>;
  published_at: Date | null;
  /** The planned transfer that stored this version, and what it counted it as (new or updated) and its bytes. */
  transfer_id: string | null;
  transfer_result: string | null;
  transfer_bytes: ColumnType<string | null, number | null, number | null>;
}

/** A file that failed for good in some sync, until it is stored or gone at the source. */
export interface FailedItemsTable {
  connector_id: number;
  source_id: string;
  name: string | null;
  reason: string;
  attempts: Generated<number>;
  first_failed_at: Generated<Date>;
  last_failed_at: Generated<Date>;
  next_attempt_at: Generated<Date>;
  item: Json<Record<string, unknown>> | null;
}

/** A push subscription (Graph) or channel (Drive) this service made; its secret only as a digest. */
export interface PushSubscriptionsTable {
  id: string;
  connector_id: number;
  source: 'graph' | 'drive';
  kind: 'driveItem' | 'channelMessages' | 'driveChanges';
  resource: string;
  resource_id: string | null;
  secret_sha256: Buffer;
  expires_at: Timestamp;
  created_at: Generated<Date>;
  renewed_at: Timestamp | null;
}

export interface Database {
  users: UsersTable;
  teams: TeamsTable;
  google_credentials: GoogleCredentialsTable;
  connectors: ConnectorsTable;
  documents: DocumentsTable;
  'connector_sync.enumeration_marks': EnumerationMarksTable;
  'connector_sync.source_folders': SourceFoldersTable;
  'connector_sync.source_items': SourceItemsTable;
  'connector_sync.relist_tasks': RelistTasksTable;
  'connector_sync.published_versions': PublishedVersionsTable;
  'connector_sync.failed_items': FailedItemsTable;
  'connector_sync.push_subscriptions': PushSubscriptionsTable;
}

export type ConnectorRow = Selectable<ConnectorsTable>;
export type DocumentRow = Selectable<DocumentsTable>;
