import { createHash } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { DOCUMENT_PROCESS_SUBJECT } from '../src/contract.js';
import { findDocuments, recordPublished, upsertDocument } from '../src/db/documents.js';
import type { ConnectorRow } from '../src/db/schema.js';
import { describeError, isItemGone, isPermanent } from '../src/errors.js';
import { objectKeyFor } from '../src/storage/object-key.js';
import { encodeDocumentProcessRequest } from '../src/wire/messages.js';
import type { PlannedItem, TransferOutcome } from '../workflows/definitions.js';
import { loadConnector } from './connector-lifecycle.js';
import type { ActivityDeps } from './deps.js';
import { toActivityFailure } from './failures.js';
import { buildSourceContext, heartbeat, providerFor } from './source-context.js';

/** Same document and signature ⇒ same id: JetStream drops a re-publish inside its duplicate window. */
export function publicationId(documentId: string, signature: string): string {
  return `doc-${documentId}-${createHash('sha256').update(signature).digest('hex').slice(0, 24)}`;
}

export async function publishDocument(
  deps: ActivityDeps,
  connector: ConnectorRow,
  documentId: string,
  objectKey: string,
  signature: string,
  chunkingSession: string,
): Promise<void> {
  const payload = encodeDocumentProcessRequest({
    documentId: Number(documentId),
    connectorId: connector.id,
    userId: connector.user_id,
    objectKey,
    chunkingSession,
    scope: connector.scope,
    scopeId: connector.scope_id,
    teamId: connector.team_id,
  });
  const h = natsHeaders();
  h.set('Nats-Msg-Id', publicationId(documentId, signature));
  await deps.jetstream.publish(DOCUMENT_PROCESS_SUBJECT, payload, { headers: h, msgID: publicationId(documentId, signature) });
  await recordPublished(deps.db, documentId, signature);
}

export function transferFileActivity(deps: ActivityDeps) {
  /**
   * Streams one item from the source into the bucket, upserts its row and
   * publishes its DocumentProcessRequest, in that order. Each step is safe to
   * repeat, and a repeat skips what is already durable. A permanent failure of
   * this item is returned as a value; anything else is thrown for Temporal to retry.
   */
  return async function transferFile(input: { connectorId: number; item: PlannedItem; chunkingSession?: string }): Promise<TransferOutcome> {
    const { item } = input;
    const connector = await loadConnector(deps, input.connectorId);
    const log = deps.logger.child({ connectorId: connector.id, sourceId: item.sourceId });
    const key = objectKeyFor(connector.id, item.sourceId, item.name);
    const chunkingSession = input.chunkingSession ?? '';
    try {
      const known = (await findDocuments(deps.db, connector.id, [item.sourceId])).get(item.sourceId);
      const live = known && known.status !== 'deleted';
      if (live && known.signature === item.signature && known.url) {
        if (known.publishedSignature === item.signature) {
          return { sourceId: item.sourceId, result: 'unchanged', bytes: 0 };
        }
        if (await deps.store.exists(known.url)) {
          // An earlier attempt stored and recorded this version but died before publishing it.
          await publishDocument(deps, connector, known.id, known.url, item.signature, chunkingSession);
          return { sourceId: item.sourceId, result: known.publishedSignature ? 'updated' : 'new', bytes: 0 };
        }
      }

      const provider = providerFor(deps, connector);
      const ctx = buildSourceContext(deps, connector);
      const content = await provider.openContent(ctx, item);
      let lastBeat = 0;
      const stored = await deps.store.putStream(key, content.body, {
        contentType: item.contentType,
        maxBytes: deps.maxFileSizeBytes,
        onProgress: (bytes) => {
          const now = Date.now();
          if (now - lastBeat > 1000) {
            lastBeat = now;
            heartbeat({ sourceId: item.sourceId, bytes, size: item.size ?? content.size ?? null });
          }
        },
      });
      const { id, inserted } = await upsertDocument(deps.db, {
        connectorId: connector.id,
        sourceId: item.sourceId,
        objectKey: key,
        originalUrl: item.webUrl ?? null,
        title: item.name,
        contentType: item.contentType,
        signature: item.signature,
        chunkingSession: chunkingSession || null,
      });
      if (known?.url && known.url !== key) await deps.store.remove(known.url);
      await publishDocument(deps, connector, id, key, item.signature, chunkingSession);
      const result = inserted || !live ? 'new' : 'updated';
      log.info({ documentId: id, bytes: stored.size, sha256: stored.sha256, result }, 'stored file');
      return { sourceId: item.sourceId, result, bytes: stored.size };
    } catch (e) {
      if (isItemGone(e)) {
        // Deleted at the source since it was listed: the source's next page reports the deletion.
        log.info('file vanished before it could be downloaded');
        return { sourceId: item.sourceId, result: 'gone', bytes: 0, reason: 'deleted at the source before download' };
      }
      if (isPermanent(e) && e.scope === 'item') {
        log.warn({ code: e.code, error: e.message }, 'file failed permanently; the sync goes on');
        return { sourceId: item.sourceId, result: 'failed', bytes: 0, reason: e.message };
      }
      log.warn({ error: describeError(e) }, 'file transfer failed; Temporal will retry');
      throw toActivityFailure(e);
    }
  };
}
