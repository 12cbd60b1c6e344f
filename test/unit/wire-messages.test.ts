import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { ConnectorSyncRequestSchema } from '../../src/gen/echomind/internal/connector_sync_pb.js';
import { ConnectorScope, ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import { InvalidSyncRequest, encodeDocumentProcessRequest, parseSyncTrigger, scopeToWire } from '../../src/wire/messages.js';

const ascii = (s: string) => [...Buffer.from(s, 'utf8')];

// ConnectorSyncRequest written out by hand from the contract's field numbers:
// 1 connector_id=7, 2 type=ONEDRIVE(3), 3 user_id=42, 4 scope=GROUP(2),
// 5 scope_id="team-9", 6 config={"refresh_token":"SECRET"}, 8 chunking_session="abc".
const onedriveRequest = new Uint8Array([
  0x08, 0x07,
  0x10, 0x03,
  0x18, 0x2a,
  0x20, 0x02,
  0x2a, 0x06, ...ascii('team-9'),
  0x32, 0x1b, 0x0a, 0x19, 0x0a, 0x0d, ...ascii('refresh_token'), 0x12, 0x08, 0x1a, 0x06, ...ascii('SECRET'),
  0x42, 0x03, ...ascii('abc'),
]);

describe('ConnectorSyncRequest decoding', () => {
  it('reads the contract fields and drops config and state', () => {
    const trigger = parseSyncTrigger('connector.sync.onedrive', onedriveRequest);
    expect(trigger).toEqual({ connectorId: 7, type: 'onedrive', userId: 42, chunkingSession: 'abc' });
    expect(JSON.stringify(trigger)).not.toContain('SECRET');
  });

  it('maps each synced type to its subject', () => {
    const teams = new Uint8Array([0x08, 0x01, 0x10, 0x01]);
    const drive = new Uint8Array([0x08, 0x01, 0x10, 0x02]);
    expect(parseSyncTrigger('connector.sync.teams', teams).type).toBe('teams');
    expect(parseSyncTrigger('connector.sync.google_drive', drive).type).toBe('google_drive');
  });

  it('rejects bytes that are not protobuf', () => {
    expect(() => parseSyncTrigger('connector.sync.onedrive', new Uint8Array([0xff, 0xff, 0xff]))).toThrowError(
      expect.objectContaining({ reason: 'undecodable' }) as Error,
    );
  });

  it('rejects JSON, which the orchestrator never sends', () => {
    const json = new TextEncoder().encode('{"connector_id": 7, "type": 3}');
    expect(() => parseSyncTrigger('connector.sync.onedrive', json)).toThrow(InvalidSyncRequest);
  });

  it('rejects a type this service does not sync', () => {
    const web = new Uint8Array([0x08, 0x07, 0x10, 0x04]);
    expect(() => parseSyncTrigger('connector.sync.onedrive', web)).toThrowError(/WEB is not synced/);
  });

  it('rejects a subject that disagrees with the type', () => {
    expect(() => parseSyncTrigger('connector.sync.google_drive', onedriveRequest)).toThrowError(
      expect.objectContaining({ reason: 'subject-mismatch' }) as Error,
    );
  });

  it.each([32_768, 2_147_483_647, -5])('rejects connector id %i, which no SMALLINT connectors.id can be', (connectorId) => {
    const bytes = toBinary(ConnectorSyncRequestSchema, create(ConnectorSyncRequestSchema, { connectorId, type: ConnectorType.ONEDRIVE }));
    expect(() => parseSyncTrigger('connector.sync.onedrive', bytes)).toThrowError(
      expect.objectContaining({ reason: 'invalid-connector-id', message: expect.stringMatching(/SMALLINT: 1 to 32767/) as string }) as Error,
    );
  });

  it('rejects a chunking session far longer than the UUID the contract promises, and accepts a UUID', () => {
    const request = (chunkingSession: string) =>
      toBinary(ConnectorSyncRequestSchema, create(ConnectorSyncRequestSchema, { connectorId: 7, type: ConnectorType.ONEDRIVE, chunkingSession }));
    expect(() => parseSyncTrigger('connector.sync.onedrive', request('x'.repeat(300_000)))).toThrowError(
      expect.objectContaining({ reason: 'invalid-chunking-session', message: expect.stringMatching(/300000 characters long/) as string }) as Error,
    );
    const uuid = '0b9c4c3e-2f7a-4a53-9d1e-5c8f2b6a7e10';
    expect(parseSyncTrigger('connector.sync.onedrive', request(uuid)).chunkingSession).toBe(uuid);
  });

  it('rejects a missing connector id', () => {
    expect(() => parseSyncTrigger('connector.sync.onedrive', new Uint8Array([0x10, 0x03]))).toThrowError(
      expect.objectContaining({ reason: 'invalid-connector-id' }) as Error,
    );
  });
});

describe('DocumentProcessRequest encoding', () => {
  it('writes the contract field numbers', () => {
    const bytes = encodeDocumentProcessRequest({
      documentId: 5,
      connectorId: 7,
      userId: 42,
      objectKey: 'connectors/7/a/b.pdf',
      chunkingSession: 'abc',
      scope: 'team',
      scopeId: 'team-9',
      teamId: 3,
    });
    expect([...bytes]).toEqual([
      0x08, 0x05,
      0x10, 0x07,
      0x18, 0x2a,
      0x22, 0x14, ...ascii('connectors/7/a/b.pdf'),
      0x2a, 0x03, ...ascii('abc'),
      0x30, 0x02,
      0x3a, 0x06, ...ascii('team-9'),
      0x40, 0x03,
    ]);
  });

  it('omits unset optional fields', () => {
    const bytes = encodeDocumentProcessRequest({
      documentId: 1,
      connectorId: 2,
      userId: 3,
      objectKey: 'k',
      chunkingSession: '',
      scope: 'user',
      scopeId: null,
      teamId: null,
    });
    expect([...bytes]).toEqual([0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x22, 0x01, ...ascii('k'), 0x30, 0x01]);
  });

  it('sends team and group scopes as GROUP, org as ORG', () => {
    expect(scopeToWire('team')).toBe(ConnectorScope.GROUP);
    expect(scopeToWire('group')).toBe(ConnectorScope.GROUP);
    expect(scopeToWire('org')).toBe(ConnectorScope.ORG);
    expect(scopeToWire('user')).toBe(ConnectorScope.USER);
  });
});
