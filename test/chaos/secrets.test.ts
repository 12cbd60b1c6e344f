import { randomBytes } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { DeliverPolicy } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorSyncRequestSchema } from '../../src/gen/echomind/internal/connector_sync_pb.js';
import { ConnectorScope, ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import { DEFAULT_USER, startDriveEmulator, type DriveEmulator } from '../emulators/drive/index.js';
import { EMULATOR_TENANT, EMULATOR_USER, startGraphEmulator, type GraphEmulator } from '../emulators/graph/index.js';
import { createConnector, createUser, resetDatabase, resetJetStream, testConfig, waitFor } from '../support/integration.js';
import { killAllServices, recordFigure, spawnService } from './support.js';
import { openObserver, type Observer } from '../support/observer.js';

/**
 * Case 6 of the chaos suite (docs/RELIABILITY.md): distinctive secret values in `connectors.config`,
 * `google_credentials`, the service's own settings and the request's
 * `config`/`state`. After syncs that succeed, fail per file and fail for good,
 * none of them occurs in the service's logs (at debug level), in any Temporal
 * history (every run, payloads and failures included), in /metrics, or in any
 * message the service published.
 */

const mark = (what: string) => `S3CR3T-${what}-${randomBytes(6).toString('hex')}`;

let graph: GraphEmulator;
let drive: DriveEmulator;
let observer: Observer;

beforeAll(async () => {
  graph = await startGraphEmulator();
  drive = await startDriveEmulator();
});

afterAll(async () => {
  await killAllServices();
  await observer?.close();
  await graph?.close();
  await drive?.close();
});

/** Every string in `value`, with byte arrays (Temporal payloads) read as UTF-8 and as base64. */
function* stringsIn(value: unknown, depth = 0): Generator<string> {
  if (depth > 40 || value === null || value === undefined) return;
  if (typeof value === 'string') yield value;
  else if (value instanceof Uint8Array) {
    yield Buffer.from(value).toString('utf8');
    yield Buffer.from(value).toString('base64');
  } else if (Array.isArray(value)) for (const v of value) yield* stringsIn(v, depth + 1);
  else if (typeof value === 'object') for (const v of Object.values(value)) yield* stringsIn(v, depth + 1);
}

describe('secrets', () => {
  it('leave no trace in logs, Temporal histories, metrics or published messages', async () => {
    const secrets = {
      graphAppSecret: mark('graph-app-secret'),
      graphUserClientSecret: mark('graph-user-client-secret'),
      configApiKey: mark('connector-config'),
      googleClientSecret: mark('google-client-secret'),
      googleStaleAccessToken: mark('google-access-token'),
      requestConfig: mark('request-config'),
      requestState: mark('request-state'),
    };
    graph.identity.registerClient('chaos-app', { secret: secrets.graphAppSecret, tenantId: EMULATOR_TENANT });
    graph.identity.registerClient('chaos-user-app', { secret: secrets.graphUserClientSecret, tenantId: EMULATOR_TENANT });
    drive.identity.addClient('chaos-google-client', secrets.googleClientSecret);
    drive.identity.rotateRefreshTokens = true;

    for (let i = 0; i < 5; i++) graph.addFile('/', `file-${i}.txt`, `graph file ${i}`);
    const locked = graph.addFile('/', 'locked.txt', 'no access');
    graph.faults.push({ match: new RegExp(`/items/${locked.id}/content$`), status: 403, times: 100 });
    for (let i = 0; i < 5; i++) drive.addFile(drive.myDrive(), `drive-${i}.txt`, `drive file ${i}`, { mimeType: 'text/plain' });

    const config = testConfig({
      MS_GRAPH_BASE_URL: graph.graphBaseUrl,
      MS_LOGIN_BASE_URL: graph.loginBaseUrl,
      MS_GRAPH_CLIENT_ID: 'chaos-app',
      MS_GRAPH_CLIENT_SECRET: secrets.graphAppSecret,
      MS_GRAPH_TENANT_ID: EMULATOR_TENANT,
      GOOGLE_DRIVE_BASE_URL: drive.driveBaseUrl,
      GOOGLE_OAUTH_TOKEN_URL: drive.tokenUrl,
    });
    observer = await openObserver(config);
    await resetJetStream(config);
    await resetDatabase(observer.db);
    const userId = await createUser(observer.db);

    const delegatedRefresh = graph.identity.issueRefreshToken('chaos-user-app', EMULATOR_USER.id);
    const revokedRefresh = graph.identity.issueRefreshToken('chaos-user-app', EMULATOR_USER.id);
    graph.identity.revokeRefreshToken(revokedRefresh);
    const googleRefresh = drive.issueRefreshToken(DEFAULT_USER, 'chaos-google-client');
    const appOnly = await createConnector(observer.db, { type: 'onedrive', config: { drive_id: graph.drive.id, api_key: secrets.configApiKey }, userId });
    const delegated = await createConnector(observer.db, {
      type: 'onedrive',
      config: { drive_id: graph.drive.id, refresh_token: delegatedRefresh, client_id: 'chaos-user-app', client_secret: secrets.graphUserClientSecret },
      userId,
    });
    const revoked = await createConnector(observer.db, {
      type: 'onedrive',
      config: { drive_id: graph.drive.id, refresh_token: revokedRefresh, client_id: 'chaos-user-app', client_secret: secrets.graphUserClientSecret },
      userId,
    });
    const credential = await observer.db
      .insertInto('google_credentials')
      .values({
        user_id: userId,
        access_token: secrets.googleStaleAccessToken,
        refresh_token: googleRefresh,
        token_expires_at: new Date(Date.now() + 3_600_000),
        granted_scopes: ['https://www.googleapis.com/auth/drive.readonly'],
        client_id: 'chaos-google-client',
        client_secret: secrets.googleClientSecret,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const googleDrive = await createConnector(observer.db, { type: 'google_drive', config: { api_key: secrets.configApiKey }, userId, googleCredentialId: credential.id });

    const service = await spawnService(config, { role: 'all', env: { LOG_LEVEL: 'debug' } });
    const startedAt = new Date();
    const requests: Array<[string, number, ConnectorType]> = [
      ['connector.sync.onedrive', appOnly, ConnectorType.ONEDRIVE],
      ['connector.sync.onedrive', delegated, ConnectorType.ONEDRIVE],
      ['connector.sync.onedrive', revoked, ConnectorType.ONEDRIVE],
      ['connector.sync.google_drive', googleDrive, ConnectorType.GOOGLE_DRIVE],
      // Refused ones: a type that disagrees with the subject, an unsynced type.
      ['connector.sync.google_drive', appOnly, ConnectorType.ONEDRIVE],
      ['connector.sync.onedrive', appOnly, ConnectorType.WEB],
    ];
    for (const [subject, connectorId, type] of requests) {
      await observer.js.publish(
        subject,
        toBinary(
          ConnectorSyncRequestSchema,
          create(ConnectorSyncRequestSchema, {
            connectorId,
            type,
            userId,
            scope: ConnectorScope.USER,
            chunkingSession: 'secrets-run',
            config: { client_secret: secrets.requestConfig, nested: { token: secrets.requestConfig } },
            state: { refresh_token: secrets.requestState },
          }),
        ),
      );
    }
    // Not protobuf at all, with a secret inside: refused without echoing it.
    await observer.js.publish('connector.sync.onedrive', new TextEncoder().encode(JSON.stringify({ config: { client_secret: secrets.requestConfig } })));

    const ids = [appOnly, delegated, revoked, googleDrive];
    await waitFor(
      'every sync to end',
      async () => {
        const rows = await observer.db.selectFrom('connectors').select(['id', 'status', 'last_update']).where('id', 'in', ids).execute();
        return rows.every((r) => (r.status === 'active' || r.status === 'error') && r.last_update !== null && r.last_update >= startedAt);
      },
      300_000,
      500,
    );
    const rows = await observer.db.selectFrom('connectors').selectAll().where('id', 'in', ids).orderBy('id').execute();
    expect(rows.map((r) => r.status)).toEqual(['active', 'active', 'error', 'active']);
    // The tokens the run itself obtained or rotated are secrets too.
    const current = await observer.db.selectFrom('google_credentials').selectAll().where('id', '=', credential.id).executeTakeFirstOrThrow();
    const live: Record<string, string> = {
      delegatedRefreshToken: delegatedRefresh,
      rotatedDelegatedRefreshToken: String((rows[1]?.config as { refresh_token?: string }).refresh_token),
      revokedRefreshToken: revokedRefresh,
      googleRefreshToken: googleRefresh,
      rotatedGoogleRefreshToken: current.refresh_token ?? googleRefresh,
      googleAccessToken: current.access_token ?? secrets.googleStaleAccessToken,
    };
    const everything: Record<string, string> = { ...secrets, ...live };
    expect(live.rotatedDelegatedRefreshToken).not.toBe(delegatedRefresh);

    // Where they must not be.
    const metrics = await service.metrics();
    // A graceful stop writes the log's last chunk (the service writes its log in chunks at least every second).
    expect(await service.terminate()).toBe(0);
    const places: Record<string, string[]> = { logs: [service.output()], metrics: [metrics], histories: [], messages: [] };
    let runs = 0;
    for await (const w of observer.temporal.workflow.list({ query: `TaskQueue = "${config.temporal.taskQueue}"` })) {
      runs++;
      const history = await observer.temporal.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      places.histories?.push(...stringsIn(history));
    }
    const consumer = await observer.js.consumers.get(config.nats.streamName, { filter_subjects: ['document.process'], deliver_policy: DeliverPolicy.All });
    let published = 0;
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 2000 });
      let n = 0;
      for await (const m of batch) {
        n++;
        places.messages?.push(Buffer.from(m.data).toString('utf8'), Buffer.from(m.data).toString('base64'), JSON.stringify(m.headers ? [...m.headers] : []));
      }
      published += n;
      if (n === 0) break;
    }
    // The control: the same search finds the request's secrets in the requests themselves.
    const inbound: string[] = [];
    const requestsIn = await observer.js.consumers.get(config.nats.streamName, { filter_subjects: ['connector.sync.*'], deliver_policy: DeliverPolicy.All });
    for await (const m of await requestsIn.fetch({ max_messages: 100, expires: 2000 })) inbound.push(Buffer.from(m.data).toString('utf8'));
    expect(inbound.join('\n').split(secrets.requestConfig).length - 1).toBeGreaterThanOrEqual(requests.length);
    const leaks: string[] = [];
    for (const [place, texts] of Object.entries(places)) {
      for (const [name, secret] of Object.entries(everything)) {
        const hits = texts.reduce((n, t) => n + t.split(secret).length - 1, 0);
        if (hits > 0) leaks.push(`${name} in ${place} (${hits}x)`);
      }
    }
    recordFigure('secrets', {
      secretValues: Object.keys(everything).length,
      logLines: service.output().split('\n').length,
      temporalRuns: runs,
      publishedMessages: published,
      occurrences: leaks.length,
    });

    expect(runs).toBeGreaterThanOrEqual(4);
    expect(published).toBeGreaterThanOrEqual(15);
    // The logs did see the syncs (so the search below looked at something).
    expect(service.output()).toContain('stored file');
    expect(leaks).toEqual([]);
    // Redaction hides secrets, not what an operator needs: the SDK's worker state is readable.
    expect(service.output()).toMatch(/"state":"RUNNING"[^\n]*"msg":"Worker state changed"/);
  }, 600_000);
});
