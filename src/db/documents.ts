import { CompiledQuery, type Kysely, type RawBuilder, sql, type SqlBool } from 'kysely';
import { preparedStatement } from './database.js';
import type { Database, DocumentRow } from './schema.js';

/** What the pipeline needs to know about an existing document to plan a change. */
export interface KnownDocument {
  id: string;
  sourceId: string;
  /** The stored object's key (the `documents.url` column). */
  objectKey: string | null;
  title: string | null;
  originalUrl: string | null;
  signature: string | null;
  status: string | null;
  /** Signature whose DocumentProcessRequest went out, if any. */
  publishedSignature: string | null;
  /** The row version stored last and not yet published (a retry publishes it under the same id). */
  unpublishedVersion: number | null;
  /** The planned transfer that stored the latest version, and how it counted it. */
  storedBy: StoredBy | null;
}

/** Which planned transfer stored a version, and what it counted: a retry of that transfer reports the same. */
export interface StoredBy {
  transferId: string;
  result: 'new' | 'updated';
  bytes: number;
}

function storedByOf(transferId: string | null | undefined, result: string | null | undefined, bytes: string | number | null | undefined): StoredBy | null {
  if (!transferId || (result !== 'new' && result !== 'updated')) return null;
  return { transferId, result, bytes: Number(bytes ?? 0) };
}

type DocumentFields = Pick<DocumentRow, 'id' | 'source_id' | 'url' | 'title' | 'original_url' | 'signature' | 'status'>;

function toKnownDocument(r: DocumentFields, publishedSignature: string | null, unpublishedVersion: number | null = null, storedBy: StoredBy | null = null): KnownDocument {
  return {
    id: String(r.id),
    sourceId: r.source_id,
    objectKey: r.url,
    title: r.title,
    originalUrl: r.original_url,
    signature: r.signature,
    status: r.status,
    publishedSignature,
    unpublishedVersion,
    storedBy,
  };
}

export async function findDocuments(db: Kysely<Database>, connectorId: number, sourceIds: string[]): Promise<Map<string, KnownDocument>> {
  if (sourceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('documents as d')
    .leftJoin('connector_sync.published_versions as p', 'p.document_id', 'd.id')
    .select(['d.id', 'd.source_id', 'd.url', 'd.title', 'd.original_url', 'd.signature', 'd.status', 'p.signature as version_signature', 'p.version', 'p.published_at', 'p.transfer_id', 'p.transfer_result', 'p.transfer_bytes'])
    .where('d.connector_id', '=', connectorId)
    .where('d.source_id', 'in', sourceIds)
    .execute();
  return new Map(
    rows.map((r) => {
      const published = r.published_at !== null && r.published_at !== undefined;
      const pending = !published && r.version_signature === r.signature && typeof r.version === 'number' ? r.version : null;
      const storedBy = r.version_signature === r.signature ? storedByOf(r.transfer_id, r.transfer_result, r.transfer_bytes) : null;
      return [r.source_id, toKnownDocument(r, published ? (r.version_signature ?? null) : null, pending, storedBy)];
    }),
  );
}

export interface DocumentUpsert {
  connectorId: number;
  sourceId: string;
  objectKey: string;
  originalUrl: string | null;
  title: string;
  contentType: string;
  signature: string;
  chunkingSession: string | null;
  /** The planned transfer storing this version, and how it counts it. */
  storedBy?: StoredBy;
}

/**
 * PostgreSQL text cannot hold U+0000 ("invalid byte sequence for encoding UTF8: 0x00"), while a
 * source's file name, or a request's chunking session, may carry one: it is dropped, not fatal.
 */
export function pgText<T extends string | null>(value: T): T {
  return (value === null ? null : value.replaceAll('\u0000', '')) as T;
}

export interface StoredVersion {
  id: string;
  inserted: boolean;
  /** The row version this store made: its message id is `doc-<id>-v<version>`. */
  version: number;
  /** This version was already stored and published by another attempt of the same transfer. */
  published: boolean;
}

/**
 * Inserts or updates the rows and allocates each a new version to publish, in
 * one statement, race-free: the unique (connector_id, source_id) index decides
 * insert or update. Every call makes a new version (a restore included), so its
 * publication gets a new message id; except that an attempt of the transfer
 * that stored the same signature last (two attempts running at once, when
 * Temporal gave up on a worker that was still alive) gets that version back,
 * so its message id is the same and JetStream drops the repeat.
 * `docs` must not repeat a source id.
 */
export async function upsertDocuments(db: Kysely<Database>, docs: DocumentUpsert[]): Promise<Map<string, StoredVersion>> {
  if (docs.length === 0) return new Map();
  const column = <T>(pick: (d: DocumentUpsert) => T) => docs.map(pick);
  const { rows } = await db.executeQuery<{ source_id: string; id: string; inserted: boolean; version: number; published: boolean }>(
    CompiledQuery.raw(UPSERT_DOCUMENTS, [
      column((d) => d.connectorId),
      column((d) => d.sourceId),
      column((d) => d.objectKey),
      column((d) => pgText(d.originalUrl)),
      column((d) => pgText(d.title)),
      column((d) => d.contentType),
      column((d) => d.signature),
      column((d) => pgText(d.chunkingSession)),
      column((d) => d.storedBy?.transferId ?? null),
      column((d) => d.storedBy?.result ?? null),
      column((d) => d.storedBy?.bytes ?? null),
      new Date(),
    ]),
  );
  return new Map(rows.map((r) => [r.source_id, { id: String(r.id), inserted: r.inserted, version: Number(r.version), published: r.published }]));
}

/**
 * upsertDocuments' one statement, its rows as one array per column (a constant text, so that it
 * is prepared once per connection; see preparedStatement). The version stays when the same
 * transfer stores the same signature again (and so does its publication).
 */
const UPSERT_DOCUMENTS = preparedStatement(
  'upsert_documents_v1',
  `with input as (
  select * from unnest($1::smallint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])
    as t(connector_id, source_id, url, original_url, title, content_type, signature, chunking_session, transfer_id, transfer_result, transfer_bytes)
), doc as (
  insert into documents (connector_id, source_id, url, original_url, title, content_type, signature, chunking_session, status, status_message, last_update)
  select connector_id, source_id, url, original_url, title, content_type, signature, chunking_session, 'pending', null, $12::timestamptz from input
  on conflict (connector_id, source_id) do update set
    url = excluded.url, original_url = excluded.original_url, title = excluded.title,
    content_type = excluded.content_type, signature = excluded.signature,
    chunking_session = excluded.chunking_session, status = 'pending', status_message = null,
    last_update = excluded.last_update
  returning id, connector_id, source_id, signature, (xmax = 0) as inserted
), pub as (
  insert into connector_sync.published_versions as p (document_id, signature, version, published_at, transfer_id, transfer_result, transfer_bytes)
  select doc.id, doc.signature, 1, null, i.transfer_id, i.transfer_result, i.transfer_bytes
  from doc join input i on i.connector_id = doc.connector_id and i.source_id = doc.source_id
  on conflict (document_id) do update set signature = excluded.signature,
    version = case when p.transfer_id = excluded.transfer_id and p.signature = excluded.signature then p.version else p.version + 1 end,
    published_at = case when p.transfer_id = excluded.transfer_id and p.signature = excluded.signature then p.published_at end,
    transfer_id = excluded.transfer_id, transfer_result = excluded.transfer_result, transfer_bytes = excluded.transfer_bytes
  returning document_id, version, published_at is not null as published
)
select doc.source_id, doc.id::text as id, doc.inserted, pub.version, pub.published from doc join pub on pub.document_id = doc.id`,
);

/** Title, web link and object key of a document whose bytes did not change. */
export async function updateDocumentMetadata(
  db: Kysely<Database>,
  id: string,
  fields: { title: string; originalUrl: string | null; objectKey: string },
): Promise<void> {
  await db
    .updateTable('documents')
    .set({ title: pgText(fields.title), original_url: pgText(fields.originalUrl), url: fields.objectKey, last_update: new Date() })
    .where('id', '=', id)
    .execute();
}

export async function markDocumentDeleted(db: Kysely<Database>, id: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('documents')
      .set({ status: 'deleted', status_message: 'removed at the source', last_update: new Date() })
      .where('id', '=', id)
      .execute();
    // The version number stays: a restored document is published under a new id.
    await tx.updateTable('connector_sync.published_versions').set({ published_at: null }).where('document_id', '=', id).execute();
  });
}

/**
 * Marks these versions published and adds the ones not marked before to the
 * connector's `docs_analyzed`, in one statement: every publication is counted
 * exactly once, whichever run (or retry) got it out.
 */
export async function recordPublished(db: Kysely<Database>, connectorId: number, versions: Array<{ documentId: string; version: number }>): Promise<void> {
  if (versions.length === 0) return;
  await db.executeQuery(
    CompiledQuery.raw(RECORD_PUBLISHED, [
      versions.map((v) => v.documentId),
      versions.map((v) => v.version),
      connectorId,
    ]),
  );
}

const RECORD_PUBLISHED = preparedStatement(
  'record_published_v1',
  `with marked as (
  update connector_sync.published_versions p set published_at = now()
  from unnest($1::bigint[], $2::integer[]) as v(document_id, version)
  where p.document_id = v.document_id and p.version = v.version and p.published_at is null
  returning p.document_id
)
update connectors set docs_analyzed = coalesce(docs_analyzed, 0) + (select count(*) from marked)
where id = $3 and exists (select 1 from marked)`,
);

/**
 * True when the connector has no document row and no failure record: a full enumeration that
 * begins now has nothing from before it for a sweep to delete.
 */
export async function hasNothingToSweep(db: Kysely<Database>, connectorId: number): Promise<boolean> {
  const [document, failure] = await Promise.all([
    db.selectFrom('documents').select('id').where('connector_id', '=', connectorId).limit(1).executeTakeFirst(),
    db.selectFrom('connector_sync.failed_items').select('source_id').where('connector_id', '=', connectorId).limit(1).executeTakeFirst(),
  ]);
  return document === undefined && failure === undefined;
}

/** Records that a full enumeration saw these items, so the sweep after it keeps them. */
export async function markSeen(db: Kysely<Database>, connectorId: number, generation: string, sourceIds: string[]): Promise<void> {
  const unique = [...new Set(sourceIds)];
  if (unique.length === 0) return;
  await db
    .insertInto('connector_sync.enumeration_marks')
    .values(unique.map((source_id) => ({ connector_id: connectorId, source_id, generation })))
    .onConflict((oc) => oc.columns(['connector_id', 'source_id']).doUpdateSet({ generation }))
    .execute();
}

/** `column` starts with one of the prefixes (none: nothing matches); no LIKE, so `%` and `_` in ids stay literal. */
export function sourceIdStartsWith(column: 'd.source_id' | 'f.source_id', prefixes: string[]): RawBuilder<SqlBool> {
  if (prefixes.length === 0) return sql<SqlBool>`false`;
  return sql<SqlBool>`(${sql.join(prefixes.map((prefix) => sql`left(${sql.ref(column)}, ${prefix.length}) = ${prefix}`), sql` or `)})`;
}

/** Live documents a complete enumeration of `generation` did not see (within these source-id prefixes, if given): proven gone. */
export async function findUnseen(db: Kysely<Database>, connectorId: number, generation: string, limit: number, within?: string[]): Promise<KnownDocument[]> {
  const rows = await db
    .selectFrom('documents as d')
    .leftJoin('connector_sync.enumeration_marks as m', (join) =>
      join.onRef('m.connector_id', '=', 'd.connector_id').onRef('m.source_id', '=', 'd.source_id').on('m.generation', '=', generation),
    )
    .select(['d.id', 'd.source_id', 'd.url', 'd.title', 'd.original_url', 'd.signature', 'd.status'])
    .where('d.connector_id', '=', connectorId)
    .where((eb) => eb.or([eb('d.status', 'is', null), eb('d.status', '!=', 'deleted')]))
    .where('m.source_id', 'is', null)
    .$if(within !== undefined, (q) => q.where(sourceIdStartsWith('d.source_id', within ?? [])))
    .limit(limit)
    .execute();
  return rows.map((r) => toKnownDocument(r, null));
}

/** How many documents of the connector are still indexed (not deleted). */
export async function countIndexedDocuments(db: Kysely<Database>, connectorId: number): Promise<number> {
  const row = await db
    .selectFrom('documents')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('connector_id', '=', connectorId)
    .where((eb) => eb.or([eb('status', 'is', null), eb('status', '!=', 'deleted')]))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
