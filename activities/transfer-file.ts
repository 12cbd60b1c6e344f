import { Readable } from 'node:stream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { DOCUMENT_PROCESS_SUBJECT } from '../src/contract.js';
import { findDocuments, recordPublished, upsertDocument, type KnownDocument } from '../src/db/documents.js';
import type { ConnectorRow } from '../src/db/schema.js';
import { describeError, isItemGone, isPermanent } from '../src/errors.js';
import type { Logger } from '../src/logger.js';
import type { ItemContent, SourceContext, SourceProvider } from '../src/providers/types.js';
import { objectKeyFor } from '../src/storage/object-key.js';
import { encodeDocumentProcessRequest } from '../src/wire/messages.js';
import type { PlannedItem, TransferOutcome } from '../workflows/definitions.js';
import { loadConnector } from './connector-lifecycle.js';
import type { ActivityDeps } from './deps.js';
import { transferFailure, type TransferStep } from './failures.js';
import { buildSourceContext, heartbeat, providerFor } from './source-context.js';

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
  log: Logger;
}

export async function openTransferScope(deps: ActivityDeps, connectorId: number, chunkingSession?: string): Promise<TransferScope> {
  const connector = await loadConnector(deps, connectorId);
  return {
    deps,
    connector,
    provider: providerFor(deps, connector),
    source: buildSourceContext(deps, connector),
    chunkingSession: chunkingSession ?? '',
    log: deps.logger.child({ connectorId: connector.id }),
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

async function publish(scope: TransferScope, documentId: string, objectKey: string, version: number): Promise<void> {
  const { deps, connector } = scope;
  const payload = documentProcessRequest(connector, documentId, objectKey, scope.chunkingSession);
  await step('publish', () => deps.jetstream.publish(DOCUMENT_PROCESS_SUBJECT, payload, withMessageId(documentId, version)));
  await step('record', () => recordPublished(deps.db, connector.id, [{ documentId, version }]));
}

/** The source reported no bytes: nothing to download. */
const emptyContent = (): ItemContent => ({ body: Readable.from([]), size: 0 });

/**
 * What an earlier attempt left durable: the same version already published
 * (unchanged), or stored and recorded but not yet published (publish it under
 * the same version, so JetStream drops a duplicate). Undefined: store anew.
 */
async function resumeDurableVersion(scope: TransferScope, item: PlannedItem, known: KnownDocument | undefined): Promise<TransferOutcome | undefined> {
  if (known === undefined || known.status === 'deleted' || known.signature !== item.signature || !known.objectKey) return undefined;
  if (known.publishedSignature === item.signature) return { sourceId: item.sourceId, result: 'unchanged', bytes: 0 };
  const objectKey = known.objectKey;
  const version = known.unpublishedVersion;
  if (version === null || !(await step('store', () => scope.deps.store.exists(objectKey)))) return undefined;
  await publish(scope, known.id, objectKey, version);
  return { sourceId: item.sourceId, result: version === 1 ? 'new' : 'updated', bytes: 0 };
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
  let lastBeat = 0;
  const stored = await step('store', () =>
    deps.store.putStream(key, content.body, {
      contentType: item.contentType,
      maxBytes: deps.maxFileSizeBytes,
      // The response's own length (never the listing's, which may be older): the body then streams straight through.
      ...(content.size !== undefined ? { length: content.size } : {}),
      onProgress: (bytes) => {
        const now = Date.now();
        if (now - lastBeat > 1000) {
          lastBeat = now;
          heartbeat({ sourceId: item.sourceId, bytes, size: item.size ?? content.size ?? null });
        }
      },
    }),
  );
  const row = await step('record', () =>
    upsertDocument(deps.db, {
      connectorId: connector.id,
      sourceId: item.sourceId,
      objectKey: key,
      originalUrl: item.webUrl ?? null,
      title: item.name,
      contentType: item.contentType,
      signature: item.signature,
      chunkingSession: scope.chunkingSession || null,
    }),
  );
  const previousKey = known?.objectKey;
  if (previousKey && previousKey !== key) await step('store', () => deps.store.remove(previousKey));
  await publish(scope, row.id, key, row.version);
  const result = row.inserted || !live ? 'new' : 'updated';
  scope.log.info({ sourceId: item.sourceId, documentId: row.id, bytes: stored.size, sha256: stored.sha256, result }, 'stored file');
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
    const failure = e instanceof StepFailure ? e.failure : e;
    const log = scope.log.child({ sourceId: item.sourceId, name: item.name });
    if (isItemGone(failure)) {
      // Deleted at the source since it was listed: the source's next page reports the deletion.
      log.info('file vanished before it could be downloaded');
      return { sourceId: item.sourceId, result: 'gone', bytes: 0, reason: 'deleted at the source before download' };
    }
    if (isPermanent(failure) && failure.scope === 'item') {
      log.warn({ code: failure.code, error: failure.message }, 'file failed permanently; the sync goes on');
      return { sourceId: item.sourceId, result: 'failed', bytes: 0, reason: failure.message, code: failure.code };
    }
    const stepName = e instanceof StepFailure ? e.step : 'lookup';
    log.warn({ step: stepName, error: describeError(failure) }, 'file transfer failed; Temporal will retry');
    throw transferFailure(stepName, failure);
  }
}

export function transferFileActivity(deps: ActivityDeps) {
  /** Streams one item into the bucket, upserts its row and publishes its DocumentProcessRequest. */
  return async function transferFile(input: { connectorId: number; item: PlannedItem; chunkingSession?: string }): Promise<TransferOutcome> {
    const scope = await openTransferScope(deps, input.connectorId, input.chunkingSession).catch((e: unknown) => {
      throw transferFailure('lookup', e);
    });
    const known = await step('lookup', () => findDocuments(deps.db, scope.connector.id, [input.item.sourceId])).catch((e: unknown) => {
      throw transferFailure('lookup', e instanceof StepFailure ? e.failure : e);
    });
    return transferItem(scope, input.item, known.get(input.item.sourceId));
  };
}
