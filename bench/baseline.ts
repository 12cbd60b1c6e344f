/**
 * The raw pipeline: the same per-file work as the service, with the service's
 * own modules for each step, and no orchestration. Per page: list the delta
 * through the source, look up the known documents once; per file, with the
 * same number in flight as the service, the service's own transferItem: GET
 * the bytes, stream them into the bucket, upsert the documents row, publish
 * the DocumentProcessRequest with its message id and record the publication
 * (one more row write). The cursor is saved in the connector row once per
 * page, as the service does.
 *
 * Forked by bench/run.ts (its own process, so its CPU is measured alone);
 * configured by the same environment as the service; driven over IPC.
 */
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { openTransferScope, transferItem } from '../activities/transfer-file.js';
import type { ActivityDeps } from '../activities/deps.js';
import { loadConfig } from '../src/config.js';
import { isIngestible } from '../src/contract.js';
import { createDatabase } from '../src/db/database.js';
import { findDocuments } from '../src/db/documents.js';
import { createLogger } from '../src/logger.js';
import { createProviders } from '../src/providers/registry.js';
import { SourceMemory } from '../src/providers/source-memory.js';
import { ObjectStore } from '../src/storage/object-store.js';
import { serveRequests } from './child.js';

export interface BaselineRun {
  op: 'sync';
  connectorId: number;
  concurrency: number;
}

export interface BaselineResult {
  pages: number;
  listed: number;
  transferred: number;
  bytes: number;
  unchanged: number;
}

const config = loadConfig(process.env);
const db = createDatabase(config.databaseUrl);
const store = new ObjectStore(config.objectStore);
await store.ensureBucket();
const nats = await connect({ servers: config.nats.url, name: 'echomind-bench-baseline' });
const deps: ActivityDeps = {
  db,
  store,
  jetstream: jetstream(nats),
  providers: createProviders(config, db),
  sourceMemory: new SourceMemory(),
  logger: createLogger(process.env.LOG_LEVEL ?? 'warn'),
  maxFileSizeBytes: config.maxFileSizeBytes,
};

async function mapLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function sync(run: BaselineRun): Promise<BaselineResult> {
  // The service's own per-file step (transferItem: GET, PUT, upsert, publish, record), outside any activity.
  const scope = await openTransferScope(deps, { connectorId: run.connectorId });
  const { connector, provider, source: ctx } = scope;
  const saved = (connector.state as { cursor?: unknown } | null)?.cursor;
  let cursor = provider.parseCursor(saved ?? null);
  const result: BaselineResult = { pages: 0, listed: 0, transferred: 0, bytes: 0, unchanged: 0 };


  for (;;) {
    const page = await provider.listChanges(ctx, cursor);
    result.pages++;
    const items = page.changes.flatMap((c) => (c.kind === 'upsert' && isIngestible(c.item.contentType) ? [c.item] : []));
    result.listed += items.length;
    const known = await findDocuments(db, connector.id, items.map((i) => i.sourceId));
    const todo = items.filter((item) => {
      const doc = known.get(item.sourceId);
      // The service's rule: same signature, stored and published ⇒ nothing to do.
      const unchanged = doc?.status !== 'deleted' && doc?.signature === item.signature && doc.publishedSignature === item.signature;
      if (unchanged) result.unchanged++;
      return !unchanged;
    });
    await mapLimited(todo, run.concurrency, async (item) => {
      const outcome = await transferItem(scope, item, known.get(item.sourceId));
      if (outcome.result !== 'new' && outcome.result !== 'updated') throw new Error(`baseline: ${item.name} ended ${outcome.result}: ${outcome.reason ?? ''}`);
      result.transferred++;
      result.bytes += outcome.bytes;
    });
    await db.updateTable('connectors').set({ state: JSON.stringify({ cursor: page.cursor }) }).where('id', '=', connector.id).execute();
    if (!page.hasMore) break;
    cursor = page.cursor;
  }
  return result;
}

serveRequests<BaselineRun | { op: 'close' }>(sync, () => Promise.all([nats.drain(), db.destroy()]));
