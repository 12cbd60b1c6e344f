import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { findDocuments } from '../../src/db/documents.js';
import { listFailures, retryDelayMs } from '../../src/db/failed-items.js';
import type { Database } from '../../src/db/schema.js';
import { ItemGoneError, NotFoundError, PermanentSourceError, SourceProtocolError, SourceUnreachableError, ThrottledError, UnauthorizedError } from '../../src/errors.js';
import { StorageError } from '../../src/storage/object-store.js';
import { profiles, TRANSFER_HEARTBEAT_EVERY_MS } from '../../workflows/activity-options.js';
import { emptyTotals, FAILURE, type BatchInput, type BatchOutcome, type ListedPage, type SyncState } from '../../workflows/definitions.js';
import type { SourceItem } from '../../src/providers/types.js';
import { workerTuning } from '../../temporal.config.js';
import type { ActivityDeps } from '../../activities/deps.js';
import { TransferSlots } from '../../activities/transfer-slots.js';
import { activityDeps, connector, emptyTables, item, MemoryBucket, MemoryJetStream, memoryDatabase, ScriptedSource, statements, upsert } from './harness.js';

let db: Kysely<Database>;
let store: MemoryBucket;
let jetstream: MemoryJetStream;
let source: ScriptedSource;
let activities: ReturnType<typeof createActivities>;
let deps: ActivityDeps;
let connectorId: number;
const env = new MockActivityEnvironment();

beforeAll(async () => {
  db = await memoryDatabase();
});

afterAll(async () => {
  await db?.destroy();
});

beforeEach(async () => {
  await emptyTables(db);
  store = new MemoryBucket();
  jetstream = new MemoryJetStream();
  source = new ScriptedSource();
  deps = activityDeps(db, store, jetstream, source);
  activities = createActivities(deps);
  connectorId = await connector(db);
});

const plan = (restart = false): Promise<ListedPage> => env.run(activities.planPage, { connectorId, restart });
const transfer = (it: ReturnType<typeof item>) => env.run(activities.transferFile, { connectorId, item: it });
const commit = (state: SyncState, extra: { sweepGeneration?: string } = {}) =>
  env.run(activities.commitPage, { connectorId, state, failed: [], cleared: [], ...extra });
const known = async (it: ReturnType<typeof item>) => (await findDocuments(db, connectorId, [it.sourceId])).get(it.sourceId);
const docsAnalyzed = async () => String((await db.selectFrom('connectors').select('docs_analyzed').where('id', '=', connectorId).executeTakeFirstOrThrow()).docs_analyzed);
/** Publications recorded (published_at set) for this connector's documents. */
const recordedPublications = async () =>
  Number(
    (
      await db
        .selectFrom('connector_sync.published_versions as p')
        .innerJoin('documents as d', 'd.id', 'p.document_id')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('d.connector_id', '=', connectorId)
        .where('p.published_at', 'is not', null)
        .executeTakeFirstOrThrow()
    ).n,
  );
/** Waits (real timers) until `n` publications of the connector are recorded: a batch's records linger before they are written. */
async function publicationsRecorded(n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await recordedPublications()) < n) {
    if (Date.now() > deadline) throw new Error(`${n} publication records were not written within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs a transfer that must fail, returning the typed failure it threw. */
async function failedTransfer(it: ReturnType<typeof item>): Promise<ApplicationFailure> {
  const error = await transfer(it).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  return error as ApplicationFailure;
}

describe('planPage decides each change', () => {
  it('new or changed → transfer; same bytes → unchanged; new name → renamed server-side; deleted → removed now; unsupported → skipped', async () => {
    const same = item('same.txt');
    const renamed = item('old.txt');
    const gone = item('gone.txt');
    const changed = item('changed.txt');
    for (const it of [same, renamed, gone, changed]) await transfer(it);
    source.pages = [
      {
        changes: [
          upsert(same),
          upsert({ ...renamed, name: 'new.txt' }),
          { kind: 'delete', sourceId: gone.sourceId },
          upsert({ ...changed, signature: 'sig-changed-2' }),
          upsert(item('fresh.txt')),
          upsert(item('sheet.xlsx', { contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' })),
          upsert(item('huge.pdf', { contentType: 'application/pdf', size: 5000 })),
        ],
        hasMore: false,
        fullEnumeration: false,
      },
    ];
    const page = await plan();
    expect(page.transfers.map((t) => t.name).sort()).toEqual(['changed.txt', 'fresh.txt']);
    expect(page).toMatchObject({ unchanged: 1, renamed: 1, deleted: 1 });
    expect(page.skipped.map((s) => s.name)).toEqual(['sheet.xlsx']);
    expect(page.failed).toEqual([expect.objectContaining({ name: 'huge.pdf', reason: expect.stringMatching(/size cap/) as unknown, item: expect.objectContaining({ name: 'huge.pdf' }) as unknown })]);
    expect((await known(renamed))?.objectKey).toMatch(/\/new\.txt$/);
    expect([...store.objects.keys()].some((k) => k.endsWith('/old.txt'))).toBe(false);
    expect((await known(gone))?.status).toBe('deleted');
    expect(source.downloads.filter((id) => id === renamed.sourceId)).toHaveLength(1);
  });

  it('a page of a full enumeration marks everything listed as seen and, on its last page, asks for the sweep', async () => {
    await transfer(item('from-before.txt'));
    source.pages = [
      { changes: [upsert(item('a.txt'))], hasMore: true, fullEnumeration: true, enumerationComplete: false },
      { changes: [upsert(item('b.txt'))], hasMore: false, fullEnumeration: true, enumerationComplete: true },
    ];
    const first = await plan();
    expect(first.sweepGeneration).toBeUndefined();
    expect(first.cursor.generation).toBeDefined();
    await commit(first.cursor);
    const last = await plan();
    expect(last.sweepGeneration).toBe(first.cursor.generation);
  });

  it('an enumeration that begins with no document and no failure recorded writes no marks and asks for no sweep', async () => {
    const marks = async () => (await db.selectFrom('connector_sync.enumeration_marks').select('source_id').where('connector_id', '=', connectorId).execute()).length;
    source.pages = [
      { changes: [upsert(item('a.txt'))], hasMore: true, fullEnumeration: true, enumerationComplete: false },
      { changes: [upsert(item('b.txt'))], hasMore: false, fullEnumeration: true, enumerationComplete: true },
    ];
    const first = await plan();
    expect(first.cursor.generation).toBeDefined();
    for (const t of first.transfers) await transfer(t);
    await commit(first.cursor);
    const last = await plan();
    expect(last.sweepGeneration).toBeUndefined();
    expect(await marks()).toBe(0);

    // The next enumeration finds those documents: it marks what it lists and sweeps the rest.
    await commit(last.cursor);
    source.pages.push({ changes: [upsert(item('a.txt'))], hasMore: false, fullEnumeration: true, enumerationComplete: true });
    const again = await plan(true);
    expect(again.sweepGeneration).toEqual(expect.any(String));
    expect(await marks()).toBe(1);
  });

  it('a deletion at the source drops the failure record of that file', async () => {
    const broken = item('broken.txt');
    await env.run(activities.settleFailedItems, { connectorId, failed: [{ sourceId: broken.sourceId, name: broken.name, reason: 'x', item: broken }], cleared: [] });
    source.pages = [{ changes: [{ kind: 'delete', sourceId: broken.sourceId }], hasMore: false, fullEnumeration: false }];
    await plan();
    expect(await listFailures(db, connectorId)).toEqual([]);
  });

  it('an item listed again unchanged drops a failure recorded for it earlier (a thread that read again), and only its own', async () => {
    const thread = item('thread.md');
    const other = item('other.md');
    await transfer(thread);
    await env.run(activities.settleFailedItems, {
      connectorId,
      failed: [
        { sourceId: thread.sourceId, name: thread.name, reason: 'the thread could not be read this time' },
        { sourceId: other.sourceId, name: other.name, reason: 'x' },
      ],
      cleared: [],
    });
    source.pages = [{ changes: [upsert(thread)], hasMore: false, fullEnumeration: false }];
    const listed = await plan();
    expect(listed.unchanged).toBe(1);
    expect((await listFailures(db, connectorId)).map((f) => f.sourceId)).toEqual([other.sourceId]);
  });
});

describe('commitPage sweeps only after a complete enumeration', () => {
  it('deletes documents and failure records the enumeration did not see, and only then', async () => {
    const kept = item('kept.txt');
    const lost = item('lost.txt');
    for (const it of [kept, lost]) await transfer(it);
    await env.run(activities.settleFailedItems, { connectorId, failed: [{ sourceId: 'id-vanished', reason: 'x' }], cleared: [] });
    source.pages = [
      { changes: [upsert(kept)], hasMore: true, fullEnumeration: true, enumerationComplete: false },
      { changes: [], hasMore: false, fullEnumeration: true, enumerationComplete: true },
    ];
    const first = await plan();
    expect(await commit(first.cursor)).toEqual({ swept: 0, priority: 'backfill' });
    expect((await known(lost))?.status).toBe('pending');
    const last = await plan();
    expect(await commit(last.cursor, { sweepGeneration: last.sweepGeneration ?? '' })).toEqual({ swept: 1, priority: 'interactive' });
    expect((await known(lost))?.status).toBe('deleted');
    expect((await known(kept))?.status).toBe('pending');
    expect(await listFailures(db, connectorId)).toEqual([]);
  });
});

describe('transferFile', () => {
  it('stores, records and publishes once, counting docs_analyzed at publication', async () => {
    const it = item('a.txt');
    expect(await transfer(it)).toMatchObject({ result: 'new' });
    expect(jetstream.accepted.map((p) => p.msgId)).toEqual([`doc-${(await known(it))?.id}-v1`]);
    expect(await docsAnalyzed()).toBe('1');
    expect(await transfer(it)).toMatchObject({ result: 'unchanged' });
    expect(jetstream.accepted).toHaveLength(1);
  });

  it('an empty file (size 0) is stored without a download, and published', async () => {
    const it = item('empty.txt', { size: 0 });
    expect(await transfer(it)).toMatchObject({ result: 'new', bytes: 0 });
    expect(source.downloads).toEqual([]);
    expect(store.objects.get((await known(it))?.objectKey ?? '')?.length).toBe(0);
    expect(jetstream.accepted).toHaveLength(1);
  });

  it('a retry after a crash at each step repeats nothing durable and publishes once', async () => {
    const it = item('a.txt');
    // Crash while storing: nothing durable.
    store.failNext.push({ op: 'put', error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect((await failedTransfer(it)).type).toBe(FAILURE.dependencyUnavailable);
    // Crash while publishing: the row and its version are durable, the message is not.
    jetstream.failNext.push(new Error('TIMEOUT'));
    expect((await failedTransfer(it)).type).toBe(FAILURE.dependencyUnavailable);
    const afterPublishCrash = await known(it);
    expect(afterPublishCrash?.unpublishedVersion).toBe(1);
    const downloads = source.downloads.length;
    expect(await transfer(it)).toMatchObject({ result: 'new' });
    expect(source.downloads).toHaveLength(downloads);
    expect(jetstream.accepted.map((p) => p.msgId)).toEqual([`doc-${afterPublishCrash?.id}-v1`]);
    expect(await docsAnalyzed()).toBe('1');
  });

  it('a new version, and a restore after a deletion, get a new message id', async () => {
    const it = item('a.txt');
    await transfer(it);
    await transfer({ ...it, signature: 'sig-a-2' });
    source.pages = [{ changes: [{ kind: 'delete', sourceId: it.sourceId }], hasMore: false, fullEnumeration: false }];
    await plan();
    await transfer({ ...it, signature: 'sig-a-2' });
    const id = (await known(it))?.id;
    expect(jetstream.accepted.map((p) => p.msgId)).toEqual([`doc-${id}-v1`, `doc-${id}-v2`, `doc-${id}-v3`]);
    expect(jetstream.dropped).toEqual([]);
    expect(await docsAnalyzed()).toBe('3');
  });

  it('blames a failure on the file or on our dependencies by its kind', async () => {
    const it = item('a.txt');
    source.downloadFailures.set(it.sourceId, new SourceProtocolError('GET /content: the body ended before its Content-Length'));
    expect((await failedTransfer(it)).type).toBe(FAILURE.sourceItemError);
    source.downloadFailures.clear();

    store.failNext.push({ op: 'put', error: StorageError.from(Object.assign(new Error('The XML you provided was not well-formed'), { code: 'MalformedXML', statusCode: 400 }), 'store') });
    expect((await failedTransfer(it)).type).toBe(FAILURE.storeRejected);

    store.failNext.push({ op: 'put', error: StorageError.from(Object.assign(new Error('We encountered an internal error'), { code: 'InternalError', statusCode: 500 }), 'store') });
    expect((await failedTransfer(it)).type).toBe(FAILURE.dependencyUnavailable);

    source.downloadFailures.set(it.sourceId, new PermanentSourceError('403 accessDenied', 'accessDenied', 'item'));
    expect(await transfer(it)).toMatchObject({ result: 'failed', reason: '403 accessDenied' });
    source.downloadFailures.set(it.sourceId, new ItemGoneError('404 itemNotFound'));
    expect(await transfer(it)).toMatchObject({ result: 'gone' });
    source.downloadFailures.set(it.sourceId, new PermanentSourceError('reconnect the account', 'invalid_grant', 'sync'));
    const syncWide = await failedTransfer(it);
    expect(syncWide.type).toBe(FAILURE.sourcePermanent);
    expect(syncWide.nonRetryable).toBe(true);
    source.downloadFailures.set(it.sourceId, new UnauthorizedError('refused after a refresh; reconnect the account', 'invalidAuthenticationToken'));
    expect(await failedTransfer(it)).toMatchObject({ type: FAILURE.sourcePermanent, nonRetryable: true, details: [{ code: 'invalidAuthenticationToken', scope: 'sync' }] });
  });

  it('hands a wait the source asked for, or an unreachable host, to Temporal with its delay and under its own name', async () => {
    const it = item('a.txt');
    source.downloadFailures.set(it.sourceId, new ThrottledError('GET /content answered 429; retry in 120 s', 'tooManyRequests', 120_000));
    expect(await failedTransfer(it)).toMatchObject({ type: FAILURE.throttled, nextRetryDelay: 120_000, nonRetryable: false });
    source.downloadFailures.set(it.sourceId, new SourceUnreachableError('could not reach graph.example (ECONNREFUSED)', 'unreachable', 400));
    // Never sooner than a second, whatever the backoff said.
    expect(await failedTransfer(it)).toMatchObject({ type: FAILURE.sourceUnreachable, nextRetryDelay: 1000, nonRetryable: false });
    // Absence alone is no verdict on the file: only the source's own openContent turns it into "gone".
    source.downloadFailures.set(it.sourceId, new NotFoundError('GET /content answered 404', 'itemNotFound'));
    expect((await failedTransfer(it)).type).toBe(FAILURE.sourceItemError);
  });
});

describe('failed items and finishing', () => {
  it('a recorded file waits longer after each failure, is due once its time passed, and is named in the summary', async () => {
    const broken = item('broken.txt');
    const failure = { sourceId: broken.sourceId, name: broken.name, reason: 'GET answered 500', item: broken };
    await env.run(activities.settleFailedItems, { connectorId, failed: [failure], cleared: [] });
    await env.run(activities.settleFailedItems, { connectorId, failed: [failure], cleared: [] });
    const [record] = await listFailures(db, connectorId);
    expect(record?.attempts).toBe(2);
    expect((record?.nextAttemptAt.getTime() ?? 0) - (record?.lastFailedAt.getTime() ?? 0)).toBeCloseTo(retryDelayMs(2, { firstMs: 60_000, maxMs: 3_600_000 }), -3);
    expect(await env.run(activities.dueFailedItems, { connectorId, limit: 10 })).toEqual([]);
    await db.updateTable('connector_sync.failed_items').set({ next_attempt_at: new Date(Date.now() - 1000) }).execute();
    expect(await env.run(activities.dueFailedItems, { connectorId, limit: 10 })).toEqual([broken]);

    const { summary }: { summary: string } = await env.run(activities.finishSync, { connectorId, totals: { ...emptyTotals(), new: 2 }, skippedReasons: {} });
    expect(summary).toBe('2 new, 0 updated, 0 deleted, 1 failed (broken.txt; retried by later syncs, see the failedItems query)');
    const row = await db.selectFrom('connectors').selectAll().where('id', '=', connectorId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'active', status_message: summary });

    await env.run(activities.settleFailedItems, { connectorId, failed: [], cleared: [broken.sourceId] });
    expect(await listFailures(db, connectorId)).toEqual([]);
  });

  it('growing delays are capped', () => {
    const delays = { firstMs: 60_000, maxMs: 300_000 };
    expect([1, 2, 3, 4, 10].map((n) => retryDelayMs(n, delays))).toEqual([60_000, 120_000, 240_000, 300_000, 300_000]);
  });
});

describe('transferBatch', () => {
  const batch = (items: Array<ReturnType<typeof item>>, on = env): Promise<BatchOutcome[]> =>
    on.run(activities.transferBatch, { connectorId, items, page: 1 });

  it('reads the connector once and looks up known documents once for the whole batch; each file its own outcome', async () => {
    const items = Array.from({ length: 6 }, (_, i) => item(`f${i}.txt`));
    await transfer(items[0] as ReturnType<typeof item>);
    statements.length = 0;
    const outcomes = await batch(items);
    expect(outcomes.map((o) => o.result)).toEqual(['unchanged', 'new', 'new', 'new', 'new', 'new']);
    expect(statements.filter((q) => /from "connectors"/.test(q))).toHaveLength(1);
    expect(statements.filter((q) => /from "documents"/.test(q))).toHaveLength(1);
    expect(jetstream.accepted).toHaveLength(6);
  });

  it("keeps the worker's body bytes within its memory budget: files count by their size, up to one upload part", async () => {
    const MiB = 1024 * 1024;
    let mostHeld = 0;
    let mostInFlight = 0;
    class WatchedSlots extends TransferSlots {
      override run<T>(work: () => Promise<T>, bytes = 0): Promise<T> {
        return super.run(() => {
          mostHeld = Math.max(mostHeld, this.bytesHeld);
          mostInFlight = Math.max(mostInFlight, this.busy);
          return work();
        }, bytes);
      }
    }
    deps.transferSlots = new WatchedSlots(32, 10 * MiB);
    // Three 4 MiB files fit two at a time in 10 MiB; a 40 MiB file counts as one 8 MiB part; small ones ride along.
    const items = [
      ...['m1', 'm2', 'm3'].map((n) => item(`${n}.bin`, { size: 4 * MiB })),
      item('huge.bin', { size: 40 * MiB }),
      ...['s1', 's2'].map((n) => item(`${n}.txt`, { size: 100 })),
    ];
    const outcomes = await batch(items);
    expect(outcomes.map((o) => o.result)).toEqual(['new', 'new', 'new', 'new', 'new', 'new']);
    expect(mostHeld).toBeGreaterThanOrEqual(8 * MiB);
    expect(mostHeld).toBeLessThanOrEqual(10 * MiB);
    expect(mostInFlight).toBeGreaterThan(1);
    expect(deps.transferSlots.bytesHeld).toBe(0);
  });

  it('a file meeting a passing failure comes back to be retried alone; the rest is stored', async () => {
    const items = [item('a.txt'), item('b.txt'), item('c.txt')];
    source.downloadFailures.set('id-b.txt', Object.assign(new Error('GET /content: read ECONNRESET'), { code: 'ECONNRESET' }));
    const outcomes = await batch(items);
    expect(outcomes).toEqual([
      expect.objectContaining({ sourceId: 'id-a.txt', result: 'new' }),
      expect.objectContaining({ sourceId: 'id-b.txt', result: 'retry', failureType: FAILURE.sourceItemError }),
      expect.objectContaining({ sourceId: 'id-c.txt', result: 'new' }),
    ]);
  });

  it('an outage fails the batch naming the file, and the retried batch skips what the heartbeats say is finished', async () => {
    const items = [item('a.txt'), item('b.txt'), item('c.txt')];
    const first = new MockActivityEnvironment();
    let lastDetails: unknown;
    first.on('heartbeat', (d: unknown) => (lastDetails = d));
    deps.filesInFlightPerBatch = 1;
    store.failNext.push({ op: 'put', error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    // The first file fails on the store; nothing finished yet.
    const failure = await batch(items, first).then(
      () => undefined,
      (e: unknown) => e as ApplicationFailure,
    );
    expect(failure?.type).toBe(FAILURE.dependencyUnavailable);
    expect((failure?.details?.[0] as { file?: string } | undefined)?.file).toBe('a.txt');

    // The next attempt finishes a and b and meets the outage again on c: its last beat carries a and b.
    const second = new MockActivityEnvironment();
    second.on('heartbeat', (d: unknown) => (lastDetails = d));
    store.failNext.push({ op: 'put', after: 2, error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    const again = await batch(items, second).then(
      () => undefined,
      (e: unknown) => e as ApplicationFailure,
    );
    expect((again?.details?.[0] as { file?: string } | undefined)?.file).toBe('c.txt');
    const finished = (lastDetails as { finished: BatchOutcome[] }).finished;
    expect(finished.map((o) => o.sourceId)).toEqual(['id-a.txt', 'id-b.txt']);

    const downloads = source.downloads.length;
    const retried = await batch(items, new MockActivityEnvironment({ heartbeatDetails: { finished } }));
    expect(retried.map((o) => o.result)).toEqual(['new', 'new', 'new']);
    expect(source.downloads.slice(downloads)).toEqual(['id-c.txt']);
    expect(jetstream.accepted).toHaveLength(3);
  });
});

/** A source whose first download of `held` waits for `release`: the point where a worker "dies" is explicit. */
class HoldingSource extends ScriptedSource {
  held = '';
  private markReached: () => void = () => undefined;
  /** Resolves once the download of `held` has begun. */
  readonly reached = new Promise<void>((resolve) => (this.markReached = resolve));
  private settle: (error?: Error) => void = () => undefined;
  private readonly released = new Promise<void>((resolve, reject) => (this.settle = (error) => (error ? reject(error) : resolve())));

  /** Lets the held download go on, or fail with `error`. */
  release(error?: Error): void {
    this.settle(error);
  }

  override openContent(ctx: unknown, it: SourceItem) {
    if (it.sourceId !== this.held) return super.openContent(ctx, it);
    this.held = '';
    this.markReached();
    return this.released.then(() => super.openContent(ctx, it));
  }
}

describe('a transfer retried after its worker died counts its files as its first attempt did', () => {
  /**
   * Runs a batch attempt until it reaches the download of `held` and leaves it there, as a SIGKILL
   * would, once the publications it made are recorded (the connector then has `recorded` of them).
   */
  async function attemptDyingAt(holding: HoldingSource, held: string, input: BatchInput, recorded: number): Promise<{ buried: () => Promise<void> }> {
    holding.held = held;
    // Its heartbeats never reach Temporal: the retry starts with no record of what it finished.
    const attempt = new MockActivityEnvironment().run(activities.transferBatch, input).then(
      () => undefined,
      () => undefined,
    );
    await holding.reached;
    await publicationsRecorded(recorded);
    return {
      buried: async () => {
        holding.release(new Error('the worker is gone'));
        await attempt;
      },
    };
  }

  let holding: HoldingSource;
  beforeEach(() => {
    holding = new HoldingSource();
    deps.providers = { onedrive: holding };
    deps.filesInFlightPerBatch = 1;
    activities = createActivities(deps);
  });

  const analyzed = async () => Number(await docsAnalyzed());

  it('a first sync: files the dead attempt published are new, not unchanged; a later transfer of the same bytes is unchanged', async () => {
    const items = [item('a.txt'), item('b.txt'), item('c.txt')];
    const input: BatchInput = { connectorId, items, page: 1, transferId: 'page-1' };
    const dead = await attemptDyingAt(holding, 'id-c.txt', input, 2);
    expect(jetstream.accepted).toHaveLength(2);

    const downloads = holding.downloads.length;
    const retried: BatchOutcome[] = await new MockActivityEnvironment().run(activities.transferBatch, input);
    await dead.buried();
    expect(retried.map((o) => o.result)).toEqual(['new', 'new', 'new']);
    expect(retried.map((o) => o.bytes)).toEqual(items.map((it) => `bytes of ${it.name}`.length));
    // Nothing fetched or published twice: only c is downloaded again.
    expect(holding.downloads.slice(downloads)).toEqual(['id-c.txt']);
    expect(jetstream.accepted).toHaveLength(3);
    expect(jetstream.dropped).toEqual([]);
    expect(await analyzed()).toBe(3);

    // A file the batch hands back goes alone under the same transfer: still new.
    expect(await env.run(activities.transferFile, { connectorId, item: items[0] as SourceItem, transferId: 'page-1' })).toMatchObject({ result: 'new' });
    // Another transfer (a later page or sync) seeing the same bytes: unchanged.
    const later: BatchOutcome[] = await env.run(activities.transferBatch, { connectorId, items, page: 2, transferId: 'page-2' });
    expect(later.map((o) => o.result)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(jetstream.accepted).toHaveLength(3);
  });

  it('an edit: files the dead attempt published are updated; a restored file is new', async () => {
    const [a, b, c] = [item('a.txt'), item('b.txt'), item('c.txt')];
    for (const it of [a, b, c]) await transfer(it);
    source.pages = [{ changes: [{ kind: 'delete', sourceId: b.sourceId }], hasMore: false, fullEnumeration: false }];
    deps.providers = { onedrive: source };
    await env.run(createActivities(deps).planPage, { connectorId });
    deps.providers = { onedrive: holding };
    const edited = [
      { ...a, signature: 'sig-a-2' },
      { ...b, signature: 'sig-b-2' },
      { ...c, signature: 'sig-c-2' },
    ];
    const input: BatchInput = { connectorId, items: edited, page: 1, transferId: 'edit' };
    // c's earlier publication, and a's and b's new ones.
    const dead = await attemptDyingAt(holding, c.sourceId, input, 3);
    const retried: BatchOutcome[] = await new MockActivityEnvironment().run(activities.transferBatch, input);
    await dead.buried();
    expect(retried.map((o) => o.result)).toEqual(['updated', 'new', 'updated']);
    expect(await analyzed()).toBe(6);
  });

  it('a worker that dies before its publication records are written: the retry publishes those files again under the same ids, which JetStream drops, and counts each once', async () => {
    const items = [item('a.txt'), item('b.txt'), item('c.txt')];
    const input: BatchInput = { connectorId, items, page: 1, transferId: 'page-1' };
    // The dying attempt's records wait longer than it lives.
    deps.recordLingerMs = 60_000;
    holding.held = 'id-c.txt';
    const attempt = new MockActivityEnvironment().run(activities.transferBatch, input).then(
      () => undefined,
      () => undefined,
    );
    await holding.reached;
    expect(jetstream.accepted).toHaveLength(2);
    expect(await recordedPublications()).toBe(0);

    const retried: BatchOutcome[] = await new MockActivityEnvironment().run(activities.transferBatch, input);
    expect(retried.map((o) => o.result)).toEqual(['new', 'new', 'new']);
    expect(await recordedPublications()).toBe(3);
    // a and b went out again under the message ids they had: JetStream drops them; the ingestor sees each once.
    const ids = jetstream.accepted.map((p) => p.msgId);
    expect(jetstream.dropped.map((p) => p.msgId).sort()).toEqual(ids.slice(0, 2).sort());
    expect(new Set(ids).size).toBe(3);
    expect(await analyzed()).toBe(3);

    // The dead attempt, released, writes its records at its end: they count nothing twice.
    holding.release(new Error('the worker is gone'));
    await attempt;
    expect(await recordedPublications()).toBe(3);
    expect(await analyzed()).toBe(3);
  });

  it('two attempts running at once (Temporal gave up on a live worker) store one version and publish it once', async () => {
    const items = [item('a.txt')];
    const input: BatchInput = { connectorId, items, page: 1, transferId: 'page-1' };
    holding.held = 'id-a.txt';
    const zombie: Promise<BatchOutcome[]> = new MockActivityEnvironment().run(activities.transferBatch, input);
    await holding.reached;
    const retried: BatchOutcome[] = await new MockActivityEnvironment().run(activities.transferBatch, input);
    holding.release();
    expect((await zombie).map((o) => o.result)).toEqual(['new']);
    expect(retried.map((o) => o.result)).toEqual(['new']);
    const id = (await known(items[0] as SourceItem))?.id;
    expect(jetstream.accepted.map((p) => p.msgId)).toEqual([`doc-${id}-v1`]);
    expect(await analyzed()).toBe(1);
  });

  it('a file stored but not yet published when the worker died is published once and counted once', async () => {
    const it = item('a.txt');
    jetstream.failNext.push(new Error('the worker is gone'));
    const firstAttempt = await env.run(activities.transferFile, { connectorId, item: it, transferId: 'alone' }).catch((e: unknown) => e);
    expect(firstAttempt).toBeInstanceOf(ApplicationFailure);
    expect(await env.run(activities.transferFile, { connectorId, item: it, transferId: 'alone' })).toMatchObject({ result: 'new', bytes: 'bytes of a.txt'.length });
    expect(jetstream.accepted).toHaveLength(1);
    expect(await analyzed()).toBe(1);
  });
});

describe('a transfer keeps its heartbeats coming while one file is slow', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the batch beats every TRANSFER_HEARTBEAT_EVERY_MS while a download waits, carrying what it finished', async () => {
    const slow = new HoldingSource();
    slow.held = 'id-big.bin';
    deps.providers = { onedrive: slow };
    deps.filesInFlightPerBatch = 1;
    activities = createActivities(deps);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const on = new MockActivityEnvironment();
    const beats: Array<{ finished?: BatchOutcome[] }> = [];
    on.on('heartbeat', (d: { finished?: BatchOutcome[] }) => beats.push(d));
    const running: Promise<BatchOutcome[]> = on.run(activities.transferBatch, { connectorId, items: [item('small.txt'), item('big.bin')], page: 1, transferId: 't' });
    await slow.reached;
    // The small file is finished once its publication record is written.
    await publicationsRecorded(1);
    const before = beats.length;
    for (let i = 0; i < 3; i++) vi.advanceTimersByTime(TRANSFER_HEARTBEAT_EVERY_MS);
    expect(beats.length - before).toBe(3);
    expect(beats.at(-1)?.finished?.map((o) => o.sourceId)).toEqual(['id-small.txt']);
    slow.release();
    expect((await running).map((o) => o.result)).toEqual(['new', 'new']);
  });

  it('Temporal declares a transfer dead after a few missed beats, within 10 s, and beats reach it at least that often', () => {
    const timeout = profiles.transfer().heartbeatTimeout as number;
    const throttle = workerTuning.maxHeartbeatThrottleInterval;
    expect(throttle).toBe(`${TRANSFER_HEARTBEAT_EVERY_MS / 1000} seconds`);
    expect(timeout).toBeGreaterThanOrEqual(3 * TRANSFER_HEARTBEAT_EVERY_MS);
    expect(timeout).toBeLessThanOrEqual(10_000);
  });
});
