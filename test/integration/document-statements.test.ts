import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, migrateToLatest } from '../../src/db/database.js';
import { findDocuments, recordPublished, upsertDocuments, type DocumentUpsert } from '../../src/db/documents.js';
import { testConfig } from '../support/integration.js';

/**
 * The per-file statements against the real PostgreSQL through pg (the activity tests run on
 * PGlite): their rows travel as one array per column, and they go as named prepared statements.
 */

const config = testConfig();
// One connection, so that the prepared statements this test looks for are on the connection it asks.
const db = createDatabase(config.databaseUrl, 1);
let connectorId: number;

beforeAll(async () => {
  await migrateToLatest(db);
  const user = await db.insertInto('users').values({ email: `statements-${Date.now()}@example.test` }).returning('id').executeTakeFirstOrThrow();
  const row = await db
    .insertInto('connectors')
    .values({ name: 'document statements', type: 'onedrive', config: JSON.stringify({ drive_id: 'd' }), user_id: user.id })
    .returning('id')
    .executeTakeFirstOrThrow();
  connectorId = row.id;
});
afterAll(async () => {
  await db.deleteFrom('documents').where('connector_id', '=', connectorId).execute();
  await db.deleteFrom('connectors').where('id', '=', connectorId).execute();
  await db.destroy();
});

const doc = (sourceId: string, title: string, extra: Partial<DocumentUpsert> = {}): DocumentUpsert => ({
  connectorId,
  sourceId,
  objectKey: `connectors/${connectorId}/${sourceId}`,
  originalUrl: null,
  title,
  contentType: 'text/plain',
  signature: `sig-${sourceId}`,
  chunkingSession: null,
  ...extra,
});

describe('document upserts and publication records on PostgreSQL', () => {
  it('names that array literals must quote come back as they were; U+0000 is dropped; nulls stay null', async () => {
    const hostile = ['a"quote', 'back\\slash', '{braces},comma', 'NULL', '', 'two\nlines', 'tab\there', '日本語 ‮ ', 'nul\u0000byte', "it's"];
    const docs = hostile.map((title, i) => doc(`hostile-${i}`, title, i === 0 ? { originalUrl: 'https://x.example/a?b="c"&d={e}', chunkingSession: 'session "1"' } : {}));
    const stored = await upsertDocuments(db, docs);
    expect([...stored.values()].every((s) => s.inserted && s.version === 1 && !s.published)).toBe(true);
    const rows = await db.selectFrom('documents').select(['source_id', 'title', 'original_url', 'chunking_session']).where('connector_id', '=', connectorId).orderBy('id').execute();
    expect(rows.map((r) => r.title)).toEqual(hostile.map((t) => t.replaceAll('\u0000', '')));
    expect(rows[0]).toMatchObject({ original_url: 'https://x.example/a?b="c"&d={e}', chunking_session: 'session "1"' });
    expect(rows.slice(1).every((r) => r.original_url === null && r.chunking_session === null)).toBe(true);
  });

  it('a second store of the same transfer keeps its version; another makes a new one; records count each publication once', async () => {
    const first = doc('versioned', 'v.txt', { storedBy: { transferId: 't1', result: 'new', bytes: 5 } });
    const v1 = (await upsertDocuments(db, [first])).get('versioned');
    expect(v1).toMatchObject({ inserted: true, version: 1, published: false });
    expect((await upsertDocuments(db, [first])).get('versioned')).toMatchObject({ inserted: false, version: 1 });
    const id = v1?.id as string;
    const analyzed = async () => Number((await db.selectFrom('connectors').select('docs_analyzed').where('id', '=', connectorId).executeTakeFirstOrThrow()).docs_analyzed ?? 0);
    const before = await analyzed();
    await recordPublished(db, connectorId, [{ documentId: id, version: 1 }]);
    await recordPublished(db, connectorId, [{ documentId: id, version: 1 }]);
    expect(await analyzed()).toBe(before + 1);
    // The same transfer again: its publication stands.
    expect((await upsertDocuments(db, [first])).get('versioned')).toMatchObject({ version: 1, published: true });
    const known = (await findDocuments(db, connectorId, ['versioned'])).get('versioned');
    expect(known).toMatchObject({ publishedSignature: 'sig-versioned', storedBy: { transferId: 't1', result: 'new', bytes: 5 } });
    // Another transfer of other bytes: a new version, not yet published.
    const second = { ...first, signature: 'sig-2', storedBy: { transferId: 't2', result: 'updated' as const, bytes: 6 } };
    expect((await upsertDocuments(db, [second])).get('versioned')).toMatchObject({ inserted: false, version: 2, published: false });
    await recordPublished(db, connectorId, [{ documentId: id, version: 1 }]);
    expect(await analyzed()).toBe(before + 1);
    await recordPublished(db, connectorId, [{ documentId: id, version: 2 }]);
    expect(await analyzed()).toBe(before + 2);
  });

  it('both go as named prepared statements, parsed once on the connection', async () => {
    const stored = (await upsertDocuments(db, [doc('prepared', 'p.txt')])).get('prepared');
    await recordPublished(db, connectorId, [{ documentId: stored?.id as string, version: stored?.version as number }]);
    const { rows } = await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(db);
    const names = rows.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['upsert_documents_v1', 'record_published_v1']));
    expect(rows.find((r) => r.name === 'upsert_documents_v1')?.statement).toMatch(/unnest\(\$1::smallint\[\]/);
  });
});
