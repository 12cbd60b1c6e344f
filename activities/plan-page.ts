import { randomUUID } from 'node:crypto';
import { isIngestible } from '../src/contract.js';
import { findDocuments, markDocumentDeleted, markSeen, updateDocumentMetadata, type KnownDocument } from '../src/db/documents.js';
import { describeError, isCursorExpired } from '../src/errors.js';
import type { ChangePage, SourceChange, SourceItem } from '../src/providers/types.js';
import { formatBytes } from '../src/storage/object-store.js';
import { objectKeyFor } from '../src/storage/object-key.js';
import type { ListedPage } from '../workflows/definitions.js';
import { loadConnector } from './connector-lifecycle.js';
import type { ActivityDeps } from './deps.js';
import { toActivityFailure } from './failures.js';
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

/** True when the stored version is this signature, and its DocumentProcessRequest went out. */
export function isUnchanged(known: KnownDocument | undefined, item: SourceItem): known is KnownDocument {
  return (
    known !== undefined &&
    known.status !== 'deleted' &&
    known.signature === item.signature &&
    known.publishedSignature === item.signature &&
    known.url !== null
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

async function planOnePage(deps: ActivityDeps, input: { connectorId: number; restart?: boolean }): Promise<ListedPage> {
  const connector = await loadConnector(deps, input.connectorId);
  const log = deps.logger.child({ connectorId: connector.id });
  try {
    const provider = providerFor(deps, connector);
    const ctx = buildSourceContext(deps, connector);
    provider.validateConfig(ctx.config);

    const saved = readSyncState(connector.state, connector.type);
    let cursor = input.restart ? null : provider.parseCursor(saved.cursor);
    let generation = input.restart ? undefined : saved.generation;
    let resynced = false;
    let page: ChangePage;
    try {
      if (cursor === null) await ctx.folders.clear();
      page = await provider.listChanges(ctx, cursor);
    } catch (e) {
      if (!isCursorExpired(e)) throw e;
      log.warn({ reason: e.message }, 'saved cursor expired; enumerating the whole source again');
      resynced = true;
      generation = undefined;
      cursor = e.restartFrom ? provider.parseCursor(e.restartFrom) : null;
      if (cursor === null) await ctx.folders.clear();
      page = await provider.listChanges(ctx, cursor);
    }

    if (page.fullEnumeration && !generation) generation = randomUUID();
    const changes = lastChangePerItem(page.changes);
    const upserts = changes.filter((c): c is Extract<SourceChange, { kind: 'upsert' }> => c.kind === 'upsert');
    const known = await findDocuments(
      deps.db,
      connector.id,
      changes.map((c) => (c.kind === 'upsert' ? c.item.sourceId : c.sourceId)),
    );

    const result: ListedPage = {
      transfers: [],
      unchanged: 0,
      renamed: 0,
      deleted: 0,
      skipped: [],
      failed: [],
      cursor: {},
      hasMore: page.hasMore,
      resynced,
    };

    for (const change of changes) {
      if (change.kind === 'skip') {
        result.skipped.push({ sourceId: change.sourceId, reason: change.reason, ...(change.name ? { name: change.name } : {}) });
        continue;
      }
      if (change.kind === 'delete') {
        const doc = known.get(change.sourceId);
        if (doc && doc.status !== 'deleted') {
          await deleteDocument(deps, doc);
          result.deleted++;
        }
        continue;
      }
      const item = change.item;
      if (!isIngestible(item.contentType)) {
        result.skipped.push({ sourceId: item.sourceId, name: item.name, reason: `type not accepted by the ingestor (${item.contentType})` });
        continue;
      }
      const doc = known.get(item.sourceId);
      if (isUnchanged(doc, item)) {
        const key = objectKeyFor(connector.id, item.sourceId, item.name);
        if (key !== doc.url && doc.url) {
          // Renamed: move the object server-side; the bytes are the same, so no download and no publish.
          await deps.store.copy(doc.url, key);
          await updateDocumentMetadata(deps.db, doc.id, { title: item.name, originalUrl: item.webUrl ?? null, objectKey: key });
          await deps.store.remove(doc.url);
          result.renamed++;
        } else {
          if (doc.title !== item.name || doc.originalUrl !== (item.webUrl ?? null)) {
            await updateDocumentMetadata(deps.db, doc.id, { title: item.name, originalUrl: item.webUrl ?? null, objectKey: doc.url ?? key });
          }
          result.unchanged++;
        }
        continue;
      }
      if (item.size !== undefined && item.size > deps.maxFileSizeBytes) {
        result.failed.push({
          sourceId: item.sourceId,
          name: item.name,
          reason: `${formatBytes(item.size)} is over the ${formatBytes(deps.maxFileSizeBytes)} size cap (MAX_FILE_SIZE_BYTES)`,
          code: 'tooLarge',
        });
        continue;
      }
      result.transfers.push(item);
    }

    if (page.fullEnumeration && generation) {
      // Everything listed counts as seen, failed items included: only a proven absence deletes.
      await markSeen(
        deps.db,
        connector.id,
        generation,
        changes.filter((c) => c.kind !== 'delete').map((c) => (c.kind === 'upsert' ? c.item.sourceId : c.sourceId)),
      );
    }
    const nextState: SyncState = {
      v: 1,
      type: connector.type,
      cursor: page.cursor,
      ...(page.fullEnumeration && !page.enumerationComplete && generation ? { generation } : {}),
    };
    result.cursor = nextState as unknown as Record<string, unknown>;
    if (page.fullEnumeration && page.enumerationComplete && generation) result.sweepGeneration = generation;
    log.info(
      {
        changes: changes.length,
        transfers: result.transfers.length,
        unchanged: result.unchanged,
        deleted: result.deleted,
        skipped: result.skipped.length,
        upserts: upserts.length,
        fullEnumeration: page.fullEnumeration,
        hasMore: page.hasMore,
      },
      'planned a page of changes',
    );
    return result;
  } catch (e) {
    log.warn({ error: describeError(e) }, 'listing changes failed');
    throw toActivityFailure(e);
  }
}

/** Object first, then the row: a crash between them leaves a row that the next attempt deletes again. */
export async function deleteDocument(deps: ActivityDeps, doc: KnownDocument): Promise<void> {
  if (doc.url) await deps.store.remove(doc.url);
  await markDocumentDeleted(deps.db, doc.id);
}
