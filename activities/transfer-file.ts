import { Readable } from 'node:stream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { DOCUMENT_PROCESS_SUBJECT } from '../src/contract.js';
import { findDocuments, type KnownDocument, type StoredBy } from '../src/db/documents.js';
import type { ConnectorRow } from '../src/db/schema.js';
import { describeError, isItemGone, isItemWithheld, isPermanent } from '../src/errors.js';
import type { Logger } from '../src/logger.js';
import type { ItemContent, SourceContext, SourceProvider } from '../src/providers/types.js';
import { objectKeyFor } from '../src/storage/object-key.js';
import { encodeDocumentProcessRequest } from '../src/wire/messages.js';
import { TRANSFER_HEARTBEAT_EVERY_MS } from '../workflows/activity-options.js';
import type { PlannedItem, TransferInput, TransferOutcome } from '../workflows/definitions.js';
import { loadConnector } from './connector-lifecycle.js';
import type { ActivityDeps } from './deps.js';
import { DocumentWrites } from './document-writes.js';
import { transferFailure, type TransferStep } from './failures.js';
import { buildSourceContext, providerFor, withHeartbeats } from './source-context.js';

/**
 * One file from the source into the bucket, its row and its
 * DocumentProcessRequest, in that order. Each step is safe to repeat, and a
 * repeat skips what is already durable.
 */

/** One message id per stored row version: a retry of the same publication is dropped by JetStream, a new version never. */
export function publicationId(documentId: string, version: number): string {
  return `doc-${documentId}-v${version}`;
}

/** What the files of one activity share: the connector row is read once per activity. */
export interface TransferScope {
  deps: ActivityDeps;
  connector: ConnectorRow;
  provider: SourceProvider;
  source: SourceContext;
  chunkingSession: string;
  /**
   * The planned transfer these files belong to (the same through every retry):
   * each stored version records it, so a retry tells its own earlier attempt's
   * work (counted as that attempt counted it) from a second sighting (unchanged).
   */
  transferId?: string;
  /** Bytes of a file stored so far, for the activity's heartbeat details. */
  onProgress?: (item: PlannedItem, bytes: number) => void;
  log: Logger;
  /** The row writes of the scope's files, coalesced into shared statements while they are in flight together. */
  writes: DocumentWrites;
  /**
   * Set by a batch: a file's publication record is handed here (by source id) instead of
   * awaited, and the batch calls the file finished once it is written.
   */
  deferRecord?: (sourceId: string, recorded: Promise<void>) => void;
  /**
   * The level of the line each stored file writes: `info` for a file that travels alone, `debug` in a
   * batch, whose own line at `info` counts its files by result (a line per file of a million-file
   * sync is a million lines, about 0.05 ms of the worker's CPU per small file).
   */
  storedFileLevel?: 'info' | 'debug';
}

export async function openTransferScope(
  deps: ActivityDeps,
  input: Pick<TransferInput, 'connectorId' | 'chunkingSession' | 'transferId'>,
  writes: { recordLingerMs?: number } = {},
): Promise<TransferScope> {
  const connector = await loadConnector(deps, input.connectorId);
  return {
    deps,
    connector,
    provider: providerFor(deps, connector),
    source: buildSourceContext(deps, connector),
    chunkingSession: input.chunkingSession ?? '',
    ...(input.transferId ? { transferId: input.transferId } : {}),
    log: deps.logger.child({ connectorId: connector.id }),
    writes: new DocumentWrites(deps.db, connector.id, writes),
  };
}

class StepFailure extends Error {
  constructor(
    readonly step: TransferStep,
    readonly failure: unknown,
  ) {
    super(describeError(failure));
  }
}

async function step<T>(name: TransferStep, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw new StepFailure(name, e);
  }
}

function documentProcessRequest(connector: ConnectorRow, documentId: string, objectKey: string, chunkingSession: string): Uint8Array {
  return encodeDocumentProcessRequest({
    documentId: Number(documentId),
    connectorId: connector.id,
    userId: connector.user_id,
    objectKey,
    chunkingSession,
    scope: connector.scope,
    scopeId: connector.scope_id,
    teamId: connector.team_id,
  });
}

function withMessageId(documentId: string, version: number) {
  const id = publicationId(documentId, version);
  const h = natsHeaders();
  h.set('Nats-Msg-Id', id);
  return { headers: h, msgID: id };
}

async function publish(scope: TransferScope, item: PlannedItem, documentId: string, objectKey: string, version: number): Promise<void> {
  const { deps, connector } = scope;
  const payload = documentProcessRequest(connector, documentId, objectKey, scope.chunkingSession);
  await step('publish', () => deps.jetstream.publish(DOCUMENT_PROCESS_SUBJECT, payload, withMessageId(documentId, version)));
  const recorded = scope.writes.recordPublished(documentId, version);
  if (scope.deferRecord) {
    // The batch handles its failure (recordFailure); this only keeps Node from calling it unhandled meanwhile.
    recorded.catch(() => undefined);
    scope.deferRecord(item.sourceId, recorded);
  } else {
    await step('record', () => recorded);
  }
}

/** The source reported no bytes: nothing to download. */
const emptyContent = (): ItemContent => ({ body: Readable.from([]), size: 0 });

/** How the transfer that stored `known`'s version counted it, when that transfer is this one (an earlier attempt of it). */
function storedByThisTransfer(scope: TransferScope, known: KnownDocument): StoredBy | undefined {
  return scope.transferId !== undefined && known.storedBy?.transferId === scope.transferId ? known.storedBy : undefined;
}

/**
 * What an earlier attempt left durable: the same version already published
 * (by an earlier attempt of this transfer: counted as that attempt counted it;
 * by another: unchanged), or stored and recorded but not yet published (publish
 * it under the same version, so JetStream drops a duplicate). Undefined: store anew.
 */
async function resumeDurableVersion(scope: TransferScope, item: PlannedItem, known: KnownDocument | undefined): Promise<TransferOutcome | undefined> {
  if (known === undefined || known.status === 'deleted' || known.signature !== item.signature || !known.objectKey) return undefined;
  if (known.publishedSignature === item.signature) {
    const earlierAttempt = storedByThisTransfer(scope, known);
    return earlierAttempt
      ? { sourceId: item.sourceId, result: earlierAttempt.result, bytes: earlierAttempt.bytes }
      : { sourceId: item.sourceId, result: 'unchanged', bytes: 0 };
  }
  const objectKey = known.objectKey;
  const version = known.unpublishedVersion;
  if (version === null || !(await step('store', () => scope.deps.store.exists(objectKey)))) return undefined;
  await publish(scope, item, known.id, objectKey, version);
  // Stored by a transfer that did not get it out (this one's earlier attempt, or a sync that failed): counted here.
  const stored = known.storedBy;
  return { sourceId: item.sourceId, result: stored?.result ?? (version === 1 ? 'new' : 'updated'), bytes: stored?.bytes ?? 0 };
}

async function storeAndPublish(scope: TransferScope, item: PlannedItem, known: KnownDocument | undefined): Promise<TransferOutcome> {
  return (await resumeDurableVersion(scope, item, known)) ?? (await storeNewVersion(scope, item, known));
}

/** Download (none for an empty file), store, upsert the row with a new version, drop a renamed object, publish. */
async function storeNewVersion(scope: TransferScope, item: PlannedItem, known: KnownDocument | undefined): Promise<TransferOutcome> {
  const { deps, connector } = scope;
  const live = known !== undefined && known.status !== 'deleted';
  const key = objectKeyFor(connector.id, item.sourceId, item.name);
  const content = item.size === 0 ? emptyContent() : await step('download', () => scope.provider.openContent(scope.source, item));
  const stored = await step('store', () =>
    deps.store.putStream(key, content.body, {
      contentType: item.contentType,
      maxBytes: deps.maxFileSizeBytes,
      // The response's own length (never the listing's, which may be older): the body then streams straight through.
      ...(content.size !== undefined ? { length: content.size } : {}),
      ...(scope.onProgress ? { onProgress: (bytes: number) => scope.onProgress?.(item, bytes) } : {}),
    }),
  );
  // A document not live before is new (a restore included); its row exists whenever it is live.
  const result = live ? 'updated' : 'new';
  const row = await step('record', () =>
    scope.writes.upsert({
      connectorId: connector.id,
      sourceId: item.sourceId,
      objectKey: key,
      originalUrl: item.webUrl ?? null,
      title: item.name,
      contentType: item.contentType,
      signature: item.signature,
      chunkingSession: scope.chunkingSession || null,
      ...(scope.transferId ? { storedBy: { transferId: scope.transferId, result, bytes: stored.size } } : {}),
    }),
  );
  const previousKey = known?.objectKey;
  if (previousKey && previousKey !== key) await step('store', () => deps.store.remove(previousKey));
  // Published by another attempt of this transfer running at the same time: nothing more to send.
  if (!row.published) await publish(scope, item, row.id, key, row.version);
  scope.log[scope.storedFileLevel ?? 'info']({ sourceId: item.sourceId, documentId: row.id, bytes: stored.size, sha256: stored.sha256, result }, 'stored file');
  return { sourceId: item.sourceId, result, bytes: stored.size };
}

/**
 * Transfers one file. Its own failures come back as values (gone at the
 * source, refused for good); anything else is thrown as a typed failure
 * (transferFailure) for Temporal to retry and the workflow to blame.
 */
export async function transferItem(scope: TransferScope, item: PlannedItem, known: KnownDocument | undefined): Promise<TransferOutcome> {
  try {
    return await storeAndPublish(scope, item, known);
  } catch (e) {
    return itemFailure(scope, item, e);
  }
}

/** What a publication record the batch deferred failing means for its file: as transferItem would have said. */
export function recordFailure(scope: TransferScope, item: PlannedItem, e: unknown): TransferOutcome {
  return itemFailure(scope, item, new StepFailure('record', e));
}

/** A failed step of one file: its outcome when the failure is the file's own, else thrown as a typed failure. */
function itemFailure(scope: TransferScope, item: PlannedItem, e: unknown): TransferOutcome {
  const failure = e instanceof StepFailure ? e.failure : e;
  const log = scope.log.child({ sourceId: item.sourceId, name: item.name });
  if (isItemGone(failure)) {
    // Deleted at the source since it was listed: the source's next page reports the deletion.
    log.info('file vanished before it could be downloaded');
    return { sourceId: item.sourceId, result: 'gone', bytes: 0, reason: 'deleted at the source before download' };
  }
  if (isItemWithheld(failure)) {
    // Refused for good by the source's own word: skipped with the reason, not retried by later syncs.
    log.warn({ code: failure.code, reason: failure.reason }, 'the source withholds this file; skipped');
    return { sourceId: item.sourceId, result: 'skipped', bytes: 0, reason: failure.reason };
  }
  if (isPermanent(failure) && failure.scope === 'item') {
    log.warn({ code: failure.code, error: failure.message }, 'file failed permanently; the sync goes on');
    return { sourceId: item.sourceId, result: 'failed', bytes: 0, reason: failure.message, code: failure.code };
  }
  const stepName = e instanceof StepFailure ? e.step : 'lookup';
  log.warn({ step: stepName, error: describeError(failure) }, 'file transfer failed; Temporal will retry');
  throw transferFailure(stepName, failure);
}

export function transferFileActivity(deps: ActivityDeps) {
  /** Streams one item into the bucket, upserts its row and publishes its DocumentProcessRequest. */
  return async function transferFile(input: TransferInput): Promise<TransferOutcome> {
    const { item } = input;
    let progress = { sourceId: item.sourceId, bytes: 0, size: item.size ?? null };
    // A beat every few seconds whatever the file is doing (waiting for the source's answer included): a dead worker's file is taken over soon.
    return withHeartbeats(() => progress, async () => {
      const scope = await openTransferScope(deps, input).catch((e: unknown) => {
        throw transferFailure('lookup', e);
      });
      scope.onProgress = (_item, bytes) => {
        progress = { ...progress, bytes };
      };
      const known = await step('lookup', () => findDocuments(deps.db, scope.connector.id, [item.sourceId])).catch((e: unknown) => {
        throw transferFailure('lookup', e instanceof StepFailure ? e.failure : e);
      });
      return transferItem(scope, item, known.get(item.sourceId));
    }, TRANSFER_HEARTBEAT_EVERY_MS);
  };
}
