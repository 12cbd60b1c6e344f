import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { defaultPayloadConverter } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { listFailures } from '../../src/db/failed-items.js';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { RunningService } from '../../src/service.js';
import { SyncTriggerKey } from '../../src/telemetry/search-attributes.js';
import { progressQuery, type SyncResult } from '../../workflows/definitions.js';
import type { GraphEmulator } from '../emulators/graph/index.js';
import { createConnector, waitFor } from '../support/integration.js';
import { connectorRowOf, documentsOf, publishSyncRequest, syncRequestBytes } from '../support/service-harness.js';
import { serviceSuite } from '../support/service-suite.js';

/**
 * The operator controls end to end (pause, resume, fullResync, retryFailed), each through the very
 * `temporal` CLI command the README gives, on the real stack with the Graph
 * emulator: pause and resume at a page boundary, a full resync of a running
 * sync, retryFailed with the pass under way and alone. Also reads back, through
 * the client, what the Web UI shows: the live details and activity summaries.
 */

const run = promisify(execFile);
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

let graph: GraphEmulator;
let config: Config;
let service: RunningService;
let userId: number;

serviceSuite({ graph: true }, (suite) => ({ graph, config, service, userId } = suite));

/**
 * The README's `temporal` command whose text matches `pattern` (backslash
 * continuations joined), for connector `connectorId` instead of 7, run against
 * the test stack. Returns its standard output.
 */
async function readmeCommand(pattern: RegExp, connectorId: number): Promise<string> {
  const commands = readme
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('temporal workflow '));
  const command = commands.find((c) => pattern.test(c));
  if (!command) throw new Error(`README.md has no temporal command matching ${String(pattern)}`);
  const script = command
    .replace(/^temporal /, `${process.env.TEMPORAL_CLI_PATH ?? 'temporal'} `)
    .replaceAll('connector-sync-7', `connector-sync-${connectorId}`)
    .replaceAll('connector 7', `connector ${connectorId}`)
    .replaceAll('ConnectorId=7', `ConnectorId=${connectorId}`)
    .replaceAll('"connectorId": 7', `"connectorId": ${connectorId}`)
    .replaceAll('--task-queue echomind-connector', `--task-queue ${config.temporal.taskQueue}`);
  const { stdout } = await run('bash', ['-c', script], {
    env: { ...process.env, TEMPORAL_ADDRESS: config.temporal.address, TEMPORAL_NAMESPACE: config.temporal.namespace },
  });
  return stdout;
}

/** A drive of `n` files listed one per page, each download throttled once (429, Retry-After 1 s): a sync of a few seconds. */
async function slowConnector(n: number): Promise<{ connectorId: number; ids: string[] }> {
  const ids = Array.from({ length: n }, (_, i) => graph.addFile('/', `file-${i + 1}.txt`, `contents of file ${i + 1}`).id);
  for (const id of ids) graph.faults.push({ match: new RegExp(`/items/${id}/content$`), status: 429, retryAfter: '1' });
  const connectorId = await createConnector(service.db, { type: 'onedrive', config: { drive_id: graph.drive.id, page_size: 1 }, userId });
  return { connectorId, ids };
}

/** Publishes the orchestrator's request and returns the handle of the run it started, once running. */
async function startViaNats(connectorId: number) {
  const after = Date.now();
  await publishSyncRequest(service, 'connector.sync.onedrive', syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE, userId, chunkingSession: 's' }));
  const handle = service.temporal.workflow.getHandle(`connector-sync-${connectorId}`);
  await waitFor('the sync to start', async () => {
    const d = await handle.describe().catch(() => undefined);
    return d && d.startTime.getTime() >= after - 5 && d.status.name === 'RUNNING';
  });
  return handle;
}

async function resultOfLatest(connectorId: number): Promise<SyncResult> {
  return (await service.temporal.workflow.getHandle(`connector-sync-${connectorId}`).result()) as SyncResult;
}

async function activitySummaries(connectorId: number): Promise<string[]> {
  const history = await service.temporal.workflow.getHandle(`connector-sync-${connectorId}`).fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes)
    .map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : ''));
}

describe('pause and resume', () => {
  it("the README's pause stops at a page boundary with the cursor saved and the connector active saying so; resume finishes the sync", async () => {
    const { connectorId } = await slowConnector(4);
    const handle = await startViaNats(connectorId);
    // Once a first file is stored (after its throttle wait), so the pause comes mid-sync with counts to show.
    await waitFor('a first file', async () => (await documentsOf(service, connectorId)).length > 0);
    await readmeCommand(/--name pause/, connectorId);

    // The workflow reports paused only once the connector's row is marked, so the row is read after that.
    await waitFor('the pause', async () => (await handle.query(progressQuery)).paused);
    const paused = await connectorRowOf(service, connectorId);
    expect(paused.status).toBe('active');
    expect(paused.status_message).toMatch(
      new RegExp(`^OneDrive sync paused after page (\\d+) \\(maintenance window\\); cursor saved; resume with: temporal workflow signal --workflow-id connector-sync-${connectorId} --name resume$`),
    );
    const pausedAfter = Number(/after page (\d+)/.exec(paused.status_message ?? '')?.[1]);
    expect((paused.state as { cursor?: unknown }).cursor).toBeTruthy();
    // Nothing moves while paused.
    const stored = (await documentsOf(service, connectorId)).length;
    expect(stored).toBeLessThan(4);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await documentsOf(service, connectorId)).toHaveLength(stored);

    // What the Web UI shows, read back: the live details and the activities' summaries.
    const metadata = await readmeCommand(/workflow metadata/, connectorId);
    expect(metadata).toContain(`Run 1 of this sync`);
    expect(metadata).toMatch(/So far:\*\* [1-3] new · 0 updated · 0 unchanged · 0 deleted · 0 failed · \d+ B stored/);
    expect(metadata).toMatch(/Now:\*\* paused after page \d+ since \d\d:\d\d:\d\d UTC, cursor saved \(maintenance window\)/);
    expect(metadata).toMatch(/Throttled:\*\* \d+ waits? \(\d+ s in all\), the last until \d\d:\d\d:\d\d UTC/);
    const described = await handle.describe();
    expect(await described.staticSummary()).toBe(`OneDrive sync of connector ${connectorId} · onedrive test`);
    expect(described.typedSearchAttributes.get(SyncTriggerKey)).toBe('orchestrator');
    // A first sync mid-walk is a backfill: so the run started, and so its activities run meanwhile.
    expect(described.raw.workflowExecutionInfo?.priority?.priorityKey).toBe(4);
    expect(await described.staticDetails()).toContain('**Priority:** backfill (a first sync or a whole enumeration), after incremental syncs (task priority 4)');
    expect(metadata).toContain('**Priority:** backfill, after incremental syncs (task priority 4)');
    const summaries = await activitySummaries(connectorId);
    expect(summaries).toContain('list changes, page 1');
    expect(summaries).toContain(`mark connector ${connectorId} paused after page ${pausedAfter}`);
    expect(summaries.some((s) => /^page \d+: 1 file \(file-\d\.txt\)$/.test(s))).toBe(true);

    await readmeCommand(/--name resume/, connectorId);
    const result = await resultOfLatest(connectorId);
    expect(result.outcome).toBe('synced');
    const row = await connectorRowOf(service, connectorId);
    expect(row.status).toBe('active');
    expect(row.status_message).toBe('4 new, 0 updated, 0 deleted, 0 failed');
    expect(await documentsOf(service, connectorId)).toHaveLength(4);
  });
});

describe('full resync of a running sync', () => {
  it("the README's fullResync re-enumerates from the next page without cancelling the running sync", async () => {
    const { connectorId, ids } = await slowConnector(3);
    // A first sync, so the second is incremental.
    await startViaNats(connectorId);
    expect((await resultOfLatest(connectorId)).outcome).toBe('synced');
    expect(ids).toHaveLength(3);
    for (const name of ['file-4.txt', 'file-5.txt']) {
      const { id } = graph.addFile('/', name, `new: ${name}`);
      graph.faults.push({ match: new RegExp(`/items/${id}/content$`), status: 429, retryAfter: '1' });
    }

    const handle = await startViaNats(connectorId);
    await readmeCommand(/--name fullResync/, connectorId);
    const result = await resultOfLatest(connectorId);
    expect(result.outcome).toBe('synced');
    expect(result.totals.new).toBe(2);
    // The full enumeration saw the three files stored by the first sync again.
    expect(result.totals.unchanged).toBeGreaterThanOrEqual(3);
    const summaries = await activitySummaries(connectorId);
    expect(summaries.some((s) => s.startsWith('list everything (full resync), page'))).toBe(true);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect((await connectorRowOf(service, connectorId)).status).toBe('active');
    expect(await documentsOf(service, connectorId)).toHaveLength(5);
  });
});

describe('retryFailed', () => {
  /** A file whose download fails for good in a first sync (two tries), recorded in connector_sync.failed_items, then fixed at the source. */
  async function withRecordedFailure() {
    const broken = graph.addFile('/', 'broken.pdf', '%PDF broken');
    graph.addFile('/', 'fine.txt', 'fine');
    graph.faults.push({ match: new RegExp(`/items/${broken.id}/content$`), status: 500, times: Infinity });
    const connectorId = await createConnector(service.db, { type: 'onedrive', config: { drive_id: graph.drive.id, page_size: 1 }, userId });
    const first = await service.temporal.workflow.execute('syncConnector', {
      taskQueue: config.temporal.taskQueue,
      workflowId: `connector-sync-${connectorId}`,
      args: [{ connectorId, transferAttempts: 2 }],
    });
    expect((first as SyncResult).totals.failed).toBe(1);
    const [record] = await listFailures(service.db, connectorId);
    expect(record?.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 10 * 60_000);
    graph.faults.length = 0;
    return { connectorId, broken };
  }

  it("alone: the README's retryFailedOnly start fetches the recorded file again without listing the source", async () => {
    const { connectorId, broken } = await withRecordedFailure();
    const listings = graph.requests.filter((r) => r.path.endsWith('/delta')).length;
    await readmeCommand(/retryFailedOnly/, connectorId);
    const result = await resultOfLatest(connectorId);
    expect(result.outcome).toBe('synced');
    expect(graph.requests.filter((r) => r.path.endsWith('/delta')).length).toBe(listings);
    expect(await listFailures(service.db, connectorId)).toEqual([]);
    expect((await documentsOf(service, connectorId)).map((d) => d.source_id)).toContain(broken.id);
    const row = await connectorRowOf(service, connectorId);
    expect(row.status).toBe('active');
    expect(row.status_message).toBe('1 new, 0 updated, 0 deleted, 0 failed');
    const described = await service.temporal.workflow.getHandle(`connector-sync-${connectorId}`).describe();
    expect(described.typedSearchAttributes.get(SyncTriggerKey)).toBe('manual');
  });

  it("with the next pass: the README's retryFailed signal to a running sync fetches it again before the sync ends", async () => {
    const { connectorId, broken } = await withRecordedFailure();
    graph.addFile('/', 'later-1.txt', 'one');
    graph.addFile('/', 'later-2.txt', 'two');
    graph.faults.push({ match: /\/content$/, status: 429, retryAfter: '1', times: 2 });
    await startViaNats(connectorId);
    await readmeCommand(/--name retryFailed$/, connectorId);
    const result = await resultOfLatest(connectorId);
    expect(result.outcome).toBe('synced');
    expect(await listFailures(service.db, connectorId)).toEqual([]);
    expect((await documentsOf(service, connectorId)).map((d) => d.source_id)).toContain(broken.id);
    expect((await connectorRowOf(service, connectorId)).status_message).toBe('3 new, 0 updated, 0 deleted, 0 failed');
  });
});
