import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import type { ActivityDeps } from '../../activities/deps.js';
import { migrateToLatest } from '../../src/db/database.js';
import type { Database } from '../../src/db/schema.js';
import { createLogger } from '../../src/logger.js';
import { SourceMemory } from '../../src/providers/source-memory.js';
import type { ChangePage, SourceChange, SourceItem, SourceProvider } from '../../src/providers/types.js';
import { MeteredStream, StorageError, type DocumentBucket, type StoredObject } from '../../src/storage/object-store.js';

/**
 * In-memory stand-ins for activity tests: PostgreSQL as PGlite (the real
 * migrations and queries, in this process), a bucket in a Map, a JetStream
 * that records what it was given, and a source of scripted pages.
 */

/** Every SQL statement the activities sent, in order (tests count lookups). */
export const statements: string[] = [];

export async function memoryDatabase(): Promise<Kysely<Database>> {
  const db = new Kysely<Database>({
    dialect: new PGliteDialect(new PGlite()),
    log: (event) => {
      if (event.level === 'query') statements.push(event.query.sql);
    },
  });
  await migrateToLatest(db);
  return db;
}

export async function emptyTables(db: Kysely<Database>): Promise<void> {
  await sql`truncate documents, connectors, google_credentials, teams, users,
    connector_sync.enumeration_marks, connector_sync.source_folders, connector_sync.published_versions,
    connector_sync.failed_items cascade`.execute(db);
}

/** A bucket in memory; `failNext` makes the next put fail with the given error (or the one `after` that many more). */
export class MemoryBucket implements DocumentBucket {
  readonly objects = new Map<string, Buffer>();
  failNext: Array<{ op: 'put' | 'exists' | 'remove'; error: unknown; after?: number }> = [];

  /** Fails as the real store does: its own errors come out as StorageErrors. */
  private take(op: 'put' | 'exists' | 'remove'): void {
    const i = this.failNext.findIndex((f) => f.op === op);
    const waiting = this.failNext[i];
    if (waiting?.after) {
      waiting.after--;
      return;
    }
    if (i >= 0) {
      const [f] = this.failNext.splice(i, 1);
      throw StorageError.from(f?.error, op);
    }
  }

  async putStream(key: string, body: Readable, options: { contentType: string; maxBytes: number; onProgress?: (bytes: number) => void }): Promise<StoredObject> {
    this.take('put');
    const meter = new MeteredStream(options.maxBytes, options.onProgress);
    const chunks: Buffer[] = [];
    for await (const chunk of body.pipe(meter)) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    this.objects.set(key, bytes);
    return { key, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  copy(fromKey: string, toKey: string): Promise<void> {
    const bytes = this.objects.get(fromKey);
    if (!bytes) return Promise.reject(new Error(`no object ${fromKey}`));
    this.objects.set(toKey, bytes);
    return Promise.resolve();
  }
  remove(key: string): Promise<void> {
    this.take('remove');
    this.objects.delete(key);
    return Promise.resolve();
  }
  exists(key: string): Promise<boolean> {
    this.take('exists');
    return Promise.resolve(this.objects.has(key));
  }
  read(key: string): Promise<Buffer> {
    const bytes = this.objects.get(key);
    return bytes ? Promise.resolve(bytes) : Promise.reject(new Error(`no object ${key}`));
  }
}

export interface Publication {
  subject: string;
  msgId: string | undefined;
}

/** JetStream's publish with its duplicate window: a repeated Nats-Msg-Id is dropped. */
export class MemoryJetStream {
  readonly accepted: Publication[] = [];
  readonly dropped: Publication[] = [];
  failNext: Error[] = [];
  publish(subject: string, _data?: Uint8Array, options?: { msgID?: string }): Promise<never> {
    const failure = this.failNext.shift();
    if (failure !== undefined) return Promise.reject(failure);
    const p = { subject, msgId: options?.msgID };
    if (this.accepted.some((a) => a.msgId === p.msgId)) this.dropped.push(p);
    else this.accepted.push(p);
    return Promise.resolve({ stream: 'ECHOMIND', seq: this.accepted.length, duplicate: false } as never);
  }
}

export function item(name: string, extra: Partial<SourceItem> = {}): SourceItem {
  return { sourceId: `id-${name}`, name, signature: `sig-${name}-1`, contentType: 'text/plain', fetch: {}, ...extra };
}

/** A source whose pages are scripted; the bytes of an item are `bytes[sourceId]`. */
export class ScriptedSource implements SourceProvider {
  readonly type = 'onedrive' as const;
  pages: Array<Omit<ChangePage, 'cursor'> & { cursor?: Record<string, unknown> }> = [];
  bytes = new Map<string, string>();
  downloads: string[] = [];
  listed = 0;
  downloadFailures = new Map<string, Error>();

  validateConfig(): void {}
  parseCursor(raw: unknown): Record<string, unknown> | null {
    return typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : null;
  }
  listChanges(): Promise<ChangePage> {
    const page = this.pages[this.listed++];
    if (!page) return Promise.reject(new Error('no more scripted pages'));
    return Promise.resolve({ cursor: { page: this.listed }, ...page });
  }
  openContent(_ctx: unknown, it: SourceItem) {
    this.downloads.push(it.sourceId);
    const failure = this.downloadFailures.get(it.sourceId);
    if (failure !== undefined) return Promise.reject(failure);
    return Promise.resolve({ body: Readable.from([Buffer.from(this.bytes.get(it.sourceId) ?? `bytes of ${it.name}`)]) });
  }
}

export const upsert = (it: SourceItem): SourceChange => ({ kind: 'upsert', item: it });

export function activityDeps(db: Kysely<Database>, store: MemoryBucket, jetstream: MemoryJetStream, source: ScriptedSource): ActivityDeps {
  return {
    db,
    store,
    jetstream,
    providers: { onedrive: source },
    logger: createLogger('silent'),
    sourceMemory: new SourceMemory(),
    maxFileSizeBytes: 1024,
    failedItemRetry: { firstMs: 60_000, maxMs: 3_600_000 },
  };
}

export async function connector(db: Kysely<Database>): Promise<number> {
  const user = await db.insertInto('users').values({ email: 'owner@example.test' }).returning('id').executeTakeFirstOrThrow();
  const row = await db
    .insertInto('connectors')
    .values({ name: 'test', type: 'onedrive', config: JSON.stringify({}), user_id: user.id })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}
