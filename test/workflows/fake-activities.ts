import { ApplicationFailure } from '@temporalio/activity';
import type { SyncActivities } from '../../activities/index.js';
import type { PageCommit } from '../../activities/commit-page.js';
import { grantPriority } from '../../activities/sync-state.js';
import {
  FAILURE,
  summarize,
  type ItemSettlement,
  type ListedPage,
  type PlannedItem,
  type SyncState,
  type TransferOutcome,
} from '../../workflows/definitions.js';

/**
 * Activities that keep a connector in memory, for workflow tests: a source of
 * scripted pages, a saved cursor that moves only on commitPage, a failed-item
 * record, and the connector's status. Each can be replaced per test.
 */

export function file(name: string, extra: Partial<PlannedItem> = {}): PlannedItem {
  return { sourceId: `id-${name}`, name, signature: `sig-${name}`, contentType: 'text/plain', size: 10, fetch: {}, ...extra };
}

export interface FakeConnector {
  /** The source's pages; a listing at or past the end is an empty "caught up" page. */
  pages: PlannedItem[][];
  /** The saved cursor: index of the next page to list. */
  savedPage: number;
  /** The state last committed (none: a first sync, a backfill to the budget). */
  savedState?: SyncState;
  status: string;
  statusMessage: string | null;
  plannedFrom: number[];
  transferred: string[];
  /** Runs before each file's transfer, in a batch or alone: lets a test hold or watch it. */
  beforeTransfer?: (item: PlannedItem) => Promise<void>;
  /** Names of the files of each batch activity. */
  batches: string[][];
  commits: PageCommit[];
  settlements: ItemSettlement[];
  recordedFailures: Map<string, { reason: string; item?: PlannedItem | undefined; due: boolean }>;
  finished: number;
  /** Status changes in order ("syncing", "active: <message>"...), to see a pause and a resume. */
  statusLog: string[];
  /** Source ids an operator made due (`all` for every one). */
  madeDue: string[];
}

export function fakeConnector(pages: PlannedItem[][]): FakeConnector {
  return {
    pages,
    savedPage: 0,
    status: 'pending',
    statusMessage: null,
    plannedFrom: [],
    transferred: [],
    batches: [],
    commits: [],
    settlements: [],
    recordedFailures: new Map(),
    finished: 0,
    statusLog: [],
    madeDue: [],
  };
}

/** A walk through the pages is a whole enumeration under way (a backfill) until its last page. */
const stateFor = (page: number, pages: number): SyncState => ({ v: 1, type: 'onedrive', cursor: { page }, ...(page < pages ? { generation: 'walk' } : {}) });

/** Outcome by file name: `denied-*` fails for good, `broken-*` throws until its retries run out, `gone-*` vanished. */
export function outcomeByName(item: PlannedItem): TransferOutcome {
  if (item.name.startsWith('denied-')) return { sourceId: item.sourceId, result: 'failed', bytes: 0, reason: 'accessDenied: the identity may not read this file' };
  if (item.name.startsWith('gone-')) return { sourceId: item.sourceId, result: 'gone', bytes: 0, reason: 'deleted at the source before download' };
  if (item.name.startsWith('broken-')) throw ApplicationFailure.create({ type: FAILURE.sourceItemError, message: 'GET /content answered 500' });
  if (item.name.startsWith('outage-')) throw ApplicationFailure.create({ type: FAILURE.dependencyUnavailable, message: 'the object store is unavailable (ECONNREFUSED)' });
  if (item.name.startsWith('rejected-')) throw ApplicationFailure.create({ type: FAILURE.storeRejected, message: 'the object store failed to store it (MalformedXML)' });
  return { sourceId: item.sourceId, result: 'new', bytes: item.size ?? 0 };
}

function settle(c: FakeConnector, s: ItemSettlement): void {
  for (const f of s.failed) c.recordedFailures.set(f.sourceId, { reason: f.reason, item: f.item, due: false });
  for (const id of s.cleared) c.recordedFailures.delete(id);
}

export function fakeActivities(c: FakeConnector, overrides: Partial<SyncActivities> = {}): SyncActivities {
  const activities: SyncActivities = {
    beginSync: () => {
      c.status = 'syncing';
      c.statusLog.push('syncing');
      return Promise.resolve({
        kind: 'run',
        connectorType: 'onedrive',
        connector: { name: 'Marketing files', scope: 'team', scopeId: '3' },
        priority: grantPriority(c.savedState, 'onedrive'),
      });
    },
    pauseSync: (input) => {
      c.status = 'active';
      c.statusMessage = input.message;
      c.statusLog.push(`active: ${input.message}`);
      return Promise.resolve();
    },
    resumeSync: () => {
      c.status = 'syncing';
      c.statusMessage = null;
      c.statusLog.push('syncing');
      return Promise.resolve();
    },
    makeFailedItemsDue: (input) => {
      let n = 0;
      for (const [id, f] of c.recordedFailures) {
        if (input.sourceIds && !input.sourceIds.includes(id)) continue;
        f.due = true;
        n++;
      }
      c.madeDue.push(...(input.sourceIds ?? ['all']));
      return Promise.resolve(n);
    },
    planPage: (input) => {
      const from = input.restart ? 0 : c.savedPage;
      c.plannedFrom.push(from);
      const items = c.pages[from] ?? [];
      const next = Math.min(from + 1, c.pages.length);
      const page: ListedPage = {
        transfers: items,
        unchanged: 0,
        renamed: 0,
        deleted: 0,
        skipped: [],
        failed: [],
        cursor: stateFor(next, c.pages.length),
        hasMore: next < c.pages.length,
        resynced: false,
      };
      return Promise.resolve(page);
    },
    transferFile: async (input) => {
      await c.beforeTransfer?.(input.item);
      c.transferred.push(input.item.name);
      return outcomeByName(input.item);
    },
    transferBatch: async (input) => {
      const outcomes = [];
      for (const item of input.items) {
        await c.beforeTransfer?.(item);
        c.transferred.push(item.name);
        try {
          outcomes.push(outcomeByName(item));
        } catch (e) {
          if (item.name.startsWith('outage-')) {
            const failure = e as ApplicationFailure;
            throw ApplicationFailure.create({ type: failure.type ?? undefined, message: failure.message, details: [{ file: item.name }] });
          }
          outcomes.push({ sourceId: item.sourceId, result: 'retry' as const, bytes: 0 as const, reason: String(e), failureType: 'SourceItemError' });
        }
      }
      c.batches.push(input.items.map((i) => i.name));
      return outcomes;
    },
    commitPage: (input) => {
      c.commits.push(input);
      settle(c, input);
      c.savedPage = (input.state.cursor as { page: number }).page;
      c.savedState = input.state;
      return Promise.resolve({ swept: 0, priority: grantPriority(input.state, 'onedrive') });
    },
    dueFailedItems: () =>
      Promise.resolve([...c.recordedFailures.values()].filter((f) => f.due && f.item).map((f) => f.item as PlannedItem)),
    settleFailedItems: (input) => {
      c.settlements.push(input);
      settle(c, input);
      return Promise.resolve();
    },
    finishSync: (input) => {
      c.finished++;
      const failed = { count: c.recordedFailures.size, names: [...c.recordedFailures.keys()].slice(0, 3).map((id) => id.replace(/^id-/, '')) };
      const summary = summarize(input.totals, input.skippedReasons, failed);
      c.status = 'active';
      c.statusMessage = summary;
      c.statusLog.push(`active: ${summary}`);
      return Promise.resolve({ summary });
    },
    failSync: (input) => {
      c.status = 'error';
      c.statusMessage = input.message;
      c.statusLog.push(`error: ${input.message}`);
      return Promise.resolve();
    },
    // The push keeper's (test/workflows/push-keeper.test.ts gives its own): syncConnector never calls them.
    keepSubscriptions: () => Promise.reject(new Error('syncConnector does not keep push subscriptions')),
    requestPushSync: () => Promise.reject(new Error('syncConnector does not request push syncs')),
  };
  return { ...activities, ...overrides };
}

/** A promise and its resolver: lets a test hold an activity until it has acted. */
export function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
