import { sql, type Kysely } from 'kysely';
import type { Database, DocumentRow } from './schema.js';

/** What the pipeline needs to know about an existing document to plan a change. */
export interface KnownDocument {
  id: string;
  sourceId: string;
  url: string | null;
  title: string | null;
  originalUrl: string | null;
  signature: string | null;
  status: string | null;
  /** Signature whose DocumentProcessRequest went out, if any. */
  publishedSignature: string | null;
}

type DocumentFields = Pick<DocumentRow, 'id' | 'source_id' | 'url' | 'title' | 'original_url' | 'signature' | 'status'>;

function toKnownDocument(r: DocumentFields, publishedSignature: string | null): KnownDocument {
  return {
    id: String(r.id),
    sourceId: r.source_id,
    url: r.url,
    title: r.title,
    originalUrl: r.original_url,
    signature: r.signature,
    status: r.status,
    publishedSignature,
  };
}

export async function findDocuments(db: Kysely<Database>, connectorId: number, sourceIds: string[]): Promise<Map<string, KnownDocument>> {
  if (sourceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('documents as d')
    .leftJoin('connector_sync.published_versions as p', 'p.document_id', 'd.id')
    .select(['d.id', 'd.source_id', 'd.url', 'd.title', 'd.original_url', 'd.signature', 'd.status', 'p.signature as published_signature'])
    .where('d.connector_id', '=', connectorId)
    .where('d.source_id', 'in', sourceIds)
    .execute();
  return new Map(rows.map((r) => [r.source_id, toKnownDocument(r, r.published_signature ?? null)]));
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
}

/**
 * PostgreSQL text cannot hold U+0000 ("invalid byte sequence for encoding UTF8: 0x00"), while a
 * source's file name, or a request's chunking session, may carry one: it is dropped, not fatal.
 */
export function pgText<T extends string | null>(value: T): T {
  return (value === null ? null : value.replaceAll('\u0000', '')) as T;
}

/** One statement, race-free: the unique (connector_id, source_id) index decides insert or update. */
export async function upsertDocument(db: Kysely<Database>, doc: DocumentUpsert): Promise<{ id: string; inserted: boolean }> {
  const row = await db
    .insertInto('documents')
    .values({
      connector_id: doc.connectorId,
      source_id: doc.sourceId,
      url: doc.objectKey,
      original_url: pgText(doc.originalUrl),
      title: pgText(doc.title),
      content_type: doc.contentType,
      signature: doc.signature,
      chunking_session: pgText(doc.chunkingSession),
      status: 'pending',
      status_message: null,
      last_update: new Date(),
    })
    .onConflict((oc) =>
      oc.columns(['connector_id', 'source_id']).doUpdateSet({
        url: (eb) => eb.ref('excluded.url'),
        original_url: (eb) => eb.ref('excluded.original_url'),
        title: (eb) => eb.ref('excluded.title'),
        content_type: (eb) => eb.ref('excluded.content_type'),
        signature: (eb) => eb.ref('excluded.signature'),
        chunking_session: (eb) => eb.ref('excluded.chunking_session'),
        status: 'pending',
        status_message: null,
        last_update: new Date(),
      }),
    )
    .returning(['id', sql<boolean>`(xmax = 0)`.as('inserted')])
    .executeTakeFirstOrThrow();
  return { id: String(row.id), inserted: row.inserted };
}

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
    await tx.deleteFrom('connector_sync.published_versions').where('document_id', '=', id).execute();
  });
}

export async function recordPublished(db: Kysely<Database>, documentId: string, signature: string): Promise<void> {
  await db
    .insertInto('connector_sync.published_versions')
    .values({ document_id: documentId, signature })
    .onConflict((oc) => oc.column('document_id').doUpdateSet({ signature, published_at: new Date() }))
    .execute();
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

/** Live documents a complete enumeration of `generation` did not see: proven gone. */
export async function findUnseen(db: Kysely<Database>, connectorId: number, generation: string, limit: number): Promise<KnownDocument[]> {
  const rows = await db
    .selectFrom('documents as d')
    .leftJoin('connector_sync.enumeration_marks as m', (join) =>
      join.onRef('m.connector_id', '=', 'd.connector_id').onRef('m.source_id', '=', 'd.source_id').on('m.generation', '=', generation),
    )
    .select(['d.id', 'd.source_id', 'd.url', 'd.title', 'd.original_url', 'd.signature', 'd.status'])
    .where('d.connector_id', '=', connectorId)
    .where((eb) => eb.or([eb('d.status', 'is', null), eb('d.status', '!=', 'deleted')]))
    .where('m.source_id', 'is', null)
    .limit(limit)
    .execute();
  return rows.map((r) => toKnownDocument(r, null));
}
