import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ConnectorSyncRequestSchema,
  DocumentProcessRequestSchema,
  type ConnectorSyncRequest,
} from '../gen/echomind/internal/connector_sync_pb.js';
import { ConnectorScope, ConnectorType } from '../gen/echomind/public/connector_pb.js';
import { MAX_CONNECTOR_ID, SYNC_SUBJECTS, type SyncedConnectorType } from '../contract.js';

/** A sync request stripped to what may travel further: no config, no state. */
export interface SyncTrigger {
  connectorId: number;
  type: SyncedConnectorType;
  userId: number;
  chunkingSession: string;
}

export class InvalidSyncRequest extends Error {
  override readonly name = 'InvalidSyncRequest';
  constructor(
    message: string,
    /** Short machine reason for logs and counters. */
    readonly reason: 'undecodable' | 'unknown-type' | 'subject-mismatch' | 'invalid-connector-id' | 'invalid-chunking-session',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const TYPE_NAMES: Partial<Record<ConnectorType, SyncedConnectorType>> = {
  [ConnectorType.TEAMS]: 'teams',
  [ConnectorType.GOOGLE_DRIVE]: 'google_drive',
  [ConnectorType.ONEDRIVE]: 'onedrive',
};

/** The contract's chunking_session is a UUID (36 characters); anything far longer is not one. */
export const MAX_CHUNKING_SESSION_LENGTH = 256;

export function decodeSyncRequest(bytes: Uint8Array): ConnectorSyncRequest {
  try {
    return fromBinary(ConnectorSyncRequestSchema, bytes);
  } catch (cause) {
    throw new InvalidSyncRequest(`message is not a ConnectorSyncRequest (${bytes.length} bytes)`, 'undecodable', { cause });
  }
}

/**
 * Decodes and checks a request received on `subject`. The message's config and
 * state are dropped here: the database row is the truth, and credentials never
 * travel further.
 */
export function parseSyncTrigger(subject: string, bytes: Uint8Array): SyncTrigger {
  const request = decodeSyncRequest(bytes);
  const type = TYPE_NAMES[request.type];
  if (!type) {
    const name = ConnectorType[request.type] ?? String(request.type);
    throw new InvalidSyncRequest(`connector type ${name} is not synced by this service`, 'unknown-type');
  }
  if (SYNC_SUBJECTS[type] !== subject) {
    throw new InvalidSyncRequest(`a ${type} request arrived on ${subject}; expected ${SYNC_SUBJECTS[type]}`, 'subject-mismatch');
  }
  if (!Number.isInteger(request.connectorId) || request.connectorId <= 0 || request.connectorId > MAX_CONNECTOR_ID) {
    throw new InvalidSyncRequest(
      `connector_id ${request.connectorId} is not a connector id (connectors.id is a SMALLINT: 1 to ${MAX_CONNECTOR_ID})`,
      'invalid-connector-id',
    );
  }
  if (request.chunkingSession.length > MAX_CHUNKING_SESSION_LENGTH) {
    // It travels into every transfer's Temporal input and every DocumentProcessRequest: a huge one would
    // overflow Temporal's payload limit and be redelivered for ever instead of failing once.
    throw new InvalidSyncRequest(
      `chunking_session is ${request.chunkingSession.length} characters long; EchoMind sends a UUID (at most ${MAX_CHUNKING_SESSION_LENGTH} accepted)`,
      'invalid-chunking-session',
    );
  }
  return { connectorId: request.connectorId, type, userId: request.userId, chunkingSession: request.chunkingSession };
}

/** EchoMind's scope names to the wire enum: `team` travels as GROUP. */
export function scopeToWire(scope: string | null | undefined): ConnectorScope {
  switch (scope) {
    case 'team':
    case 'group':
      return ConnectorScope.GROUP;
    case 'org':
      return ConnectorScope.ORG;
    case 'user':
    default:
      return ConnectorScope.USER;
  }
}

export interface DocumentProcessFields {
  documentId: number;
  connectorId: number;
  userId: number;
  objectKey: string;
  chunkingSession: string;
  scope: string | null;
  scopeId: string | null;
  teamId: number | null;
}

export function encodeDocumentProcessRequest(f: DocumentProcessFields): Uint8Array {
  return toBinary(
    DocumentProcessRequestSchema,
    create(DocumentProcessRequestSchema, {
      documentId: f.documentId,
      connectorId: f.connectorId,
      userId: f.userId,
      minioPath: f.objectKey,
      chunkingSession: f.chunkingSession,
      scope: scopeToWire(f.scope),
      ...(f.scopeId !== null ? { scopeId: f.scopeId } : {}),
      ...(f.teamId !== null ? { teamId: f.teamId } : {}),
    }),
  );
}
