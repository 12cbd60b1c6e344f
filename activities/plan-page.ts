import { randomUUID } from 'node:crypto';
import { isIngestible } from '../src/contract.js';
import { findDocuments, hasNothingToSweep, markDocumentDeleted, markSeen, updateDocumentMetadata, type KnownDocument } from '../src/db/documents.js';
import { clearFailures } from '../src/db/failed-items.js';
import type { ConnectorRow } from '../src/db/schema.js';
import { describeError, isCursorExpired, isEnumerationDue, isScopeGone } from '../src/errors.js';
import type { Logger } from '../src/logger.js';
import type { ChangePage, SourceChange, SourceContext, SourceItem, SourceProvider } from '../src/providers/types.js';
import { formatBytes } from '../src/storage/object-store.js';
import { objectKeyFor } from '../src/storage/object-key.js';
import type { ListedPage } from '../workflows/definitions.js';
import { notIngestibleReason } from '../workflows/skip-reasons.js';
import { loadConnector } from './connector-lifecycle.js';
import type { ActivityDeps } from './deps.js';
import { toActivityFailure, withIndexedCount } from './failures.js';
import { buildSourceContext, providerFor, withHeartbeats } from './source-context.js';
import { readSyncState, type SyncState } from './sync-state.js';

/** The last change for each id wins (Graph may report an item twice in a page). */
function lastChangePerItem(changes: SourceChange[]): SourceChange[] {
  const byId = new Map<string, SourceChange>();
  for (const change of changes) {
    const id = change.kind === 'upsert' ? change.item.sourceId : change.sourceId;
    byId.delete(id);
    byId.set(id, change);
  }
  return [...byId.values()];
}

const sourceIdOf = (c: SourceChange): string => (c.kind === 'upsert' ? c.item.sourceId : c.sourceId);

/** True when the stored version is this signature, and its DocumentProcessRequest went out. */
export function isUnchanged(known: KnownDocument | undefined, item: SourceItem): known is KnownDocument {
  return (
    known !== undefined &&
    known.status !== 'deleted' &&
    known.signature === item.signature &&
    known.publishedSignature === item.signature &&
    known.objectKey !== null
  );
}

export function planPageActivity(deps: ActivityDeps) {
  /**
   * Lists one page of changes from the saved cursor and applies at once what
   * needs no download: deletions, and renames or link changes of items whose
   * bytes are unchanged. Returns the transfers to run and the state to save
   * once they are durable. Safe to repeat: the saved cursor only moves in
   * commitPage.
   */
  return function planPage(input: { connectorId: number; restart?: boolean }): Promise<ListedPage> {
    return withHeartbeats({ connectorId: input.connectorId, step: 'listing changes' }, () => planOnePage(deps, input));
  };
}

interface PagePlan {
  deps: ActivityDeps;
  connector: ConnectorRow;
  known: Map<string, KnownDocument>;
  result: ListedPage;
  /** Items found deleted or stored unchanged: a failure recorded for them earlier is stale. */
  settled: string[];
}

async function planOnePage(deps: ActivityDeps, input: { connectorId: number; restart?: boolean }): Promise<ListedPage> {
  const connector = await loadConnector(deps, input.connectorId);
  const log = deps.logger.child({ connectorId: connector.id });
  try {
    const provider = providerFor(deps, connector);
    const ctx = buildSourceContext(deps, connector);
    provider.validateConfig(ctx.config);
    const listed = await listFromSavedCursor(deps, provider, ctx, connector, input.restart === true, log);
    const { page } = listed;
    const changes = lastChangePerItem(page.changes);
    const plan: PagePlan = {
      deps,
      connector,
      known: await findDocuments(deps.db, connector.id, changes.map(sourceIdOf)),
      result: {
        transfers: [],
        unchanged: 0,
        renamed: 0,
        deleted: 0,
        skipped: [],
        failed: [],
        cursor: readSyncState(null, connector.type),
        hasMore: page.hasMore,
        resynced: listed.resynced,
        ...(page.relisted ? { relisted: page.relisted } : {}),
        ...(listed.scheduled ? { scheduledEnumeration: true } : {}),
      },
      settled: changes.filter((c) => c.kind === 'delete').map(sourceIdOf),
    };
    for (const change of changes) await planChange(plan, change);
    await clearFailures(deps.db, connector.id, plan.settled);
    await markSeenDuringEnumeration(plan, page, listed.generation, changes);
    log.info(
      {
        changes: changes.length,
        transfers: plan.result.transfers.length,
        unchanged: plan.result.unchanged,
        deleted: plan.result.deleted,
        skipped: plan.result.skipped.length,
        fullEnumeration: page.fullEnumeration,
        hasMore: page.hasMore,
      },
      'planned a page of changes',
    );
    return plan.result;
  } catch (e) {
    log.warn({ error: describeError(e) }, 'listing changes failed');
    throw toActivityFailure(isScopeGone(e) ? await withIndexedCount(deps, connector.id, e) : e);
  }
}

/**
 * One page from the saved cursor (none on a restart). A cursor the source
 * rejects starts a full enumeration, whose last page sweeps what it did not see.
 */
async function listFromSavedCursor(
  deps: ActivityDeps,
  provider: SourceProvider,
  ctx: SourceContext,
  connector: ConnectorRow,
  restart: boolean,
  log: Logger,
): Promise<{ page: ChangePage; generation: string | undefined; resynced: boolean; scheduled?: boolean }> {
  const saved = readSyncState(connector.state, connector.type);
  const cursor = restart ? null : provider.parseCursor(saved.cursor);
  const generation = restart ? undefined : saved.generation;
  const fromScratch = async (page: ChangePage, gen: string | undefined, resynced: boolean) => ({
    page,
    generation: page.fullEnumeration ? (gen ?? (await newGeneration(deps, connector.id))) : gen,
    resynced,
  });
  try {
    if (cursor === null) await ctx.folders.clear();
    return await fromScratch(await provider.listChanges(ctx, cursor), generation, false);
  } catch (e) {
    if (!isCursorExpired(e)) throw e;
    log.warn({ reason: e.message }, 'saved cursor expired; enumerating the whole source again');
    const restartAt = e.restartFrom ? provider.parseCursor(e.restartFrom) : null;
    if (restartAt === null) await ctx.folders.clear();
    const listed = await fromScratch(await provider.listChanges(ctx, restartAt), undefined, !isEnumerationDue(e));
    return isEnumerationDue(e) ? { ...listed, scheduled: true } : listed;
  }
}

/** The prefix of a generation that began with nothing from before it to sweep (see newGeneration). */
const NOTHING_TO_SWEEP = 'first-';

/**
 * The key of a full enumeration that starts now. One that starts while the connector has no
 * document and no failure record (a first sync) is marked: everything it could sweep, it lists
 * itself, so its pages write no marks and its last page asks for no sweep. A first sync of a
 * million files otherwise writes a million marks and deletes them again. Page one's planning
 * decides it before any of its files is stored; a crash before page one is saved plans it anew,
 * and then finds those files and takes the ordinary way.
 */
async function newGeneration(deps: ActivityDeps, connectorId: number): Promise<string> {
  return (await hasNothingToSweep(deps.db, connectorId)) ? `${NOTHING_TO_SWEEP}${randomUUID()}` : randomUUID();
}

/** Decides one change: delete now, skip, rename or touch metadata now, fail on size, or transfer. */
async function planChange(plan: PagePlan, change: SourceChange): Promise<void> {
  const { result } = plan;
  if (change.kind === 'skip') {
    result.skipped.push({ sourceId: change.sourceId, reason: change.reason, ...(change.name ? { name: change.name } : {}) });
    return;
  }
  if (change.kind === 'fail') {
    result.failed.push({ sourceId: change.sourceId, reason: change.reason, ...(change.name ? { name: change.name } : {}), ...(change.code ? { code: change.code } : {}) });
    return;
  }
  if (change.kind === 'delete') {
    const doc = plan.known.get(change.sourceId);
    if (doc && doc.status !== 'deleted') {
      await deleteDocument(plan.deps, doc);
      result.deleted++;
    }
    return;
  }
  const item = change.item;
  if (!isIngestible(item.contentType)) {
    result.skipped.push({ sourceId: item.sourceId, name: item.name, reason: notIngestibleReason(item.contentType) });
    return;
  }
  const doc = plan.known.get(item.sourceId);
  if (isUnchanged(doc, item)) {
    await applyUnchanged(plan, doc, item);
    plan.settled.push(item.sourceId);
    return;
  }
  const cap = plan.deps.maxFileSizeBytes;
  if (item.size !== undefined && item.size > cap) {
    const reason = `${formatBytes(item.size)} is over the ${formatBytes(cap)} size cap (MAX_FILE_SIZE_BYTES)`;
    result.failed.push({ sourceId: item.sourceId, name: item.name, reason, code: 'tooLarge', item });
    return;
  }
  result.transfers.push(item);
}

/** Same bytes: a rename moves the object server-side (no download, no publish); a title or link change is written. */
async function applyUnchanged(plan: PagePlan, doc: KnownDocument, item: SourceItem): Promise<void> {
  const { deps, connector, result } = plan;
  const key = objectKeyFor(connector.id, item.sourceId, item.name);
  if (key !== doc.objectKey && doc.objectKey) {
    await deps.store.copy(doc.objectKey, key);
    await updateDocumentMetadata(deps.db, doc.id, { title: item.name, originalUrl: item.webUrl ?? null, objectKey: key });
    await deps.store.remove(doc.objectKey);
    result.renamed++;
    return;
  }
  if (doc.title !== item.name || doc.originalUrl !== (item.webUrl ?? null)) {
    await updateDocumentMetadata(deps.db, doc.id, { title: item.name, originalUrl: item.webUrl ?? null, objectKey: doc.objectKey ?? key });
  }
  result.unchanged++;
}

/**
 * During a full enumeration everything listed counts as seen, failed items
 * included (only a proven absence deletes); the state to save keeps the
 * generation until the enumeration's last page, which asks for the sweep
 * (unless the enumeration began with nothing to sweep).
 */
async function markSeenDuringEnumeration(plan: PagePlan, page: ChangePage, generation: string | undefined, changes: SourceChange[]): Promise<void> {
  const { deps, connector, result } = plan;
  const sweeps = generation !== undefined && !generation.startsWith(NOTHING_TO_SWEEP);
  if (page.fullEnumeration && sweeps) {
    await markSeen(deps.db, connector.id, generation, changes.filter((c) => c.kind !== 'delete').map(sourceIdOf));
  }
  const enumerating = page.fullEnumeration && generation !== undefined;
  const nextState: SyncState = {
    v: 1,
    type: connector.type,
    cursor: page.cursor,
    ...(enumerating && !page.enumerationComplete ? { generation } : {}),
  };
  result.cursor = nextState;
  if (enumerating && page.enumerationComplete && sweeps) {
    result.sweepGeneration = generation;
    if (page.sweepOnly) result.sweepOnly = page.sweepOnly;
  }
}

/** Object first, then the row: a crash between them leaves a row that the next attempt deletes again. */
export async function deleteDocument(deps: ActivityDeps, doc: KnownDocument): Promise<void> {
  if (doc.objectKey) await deps.store.remove(doc.objectKey);
  await markDocumentDeleted(deps.db, doc.id);
}
