/**
 * The service end to end on its local defaults: the real local stack, the
 * bridge, the worker and the health endpoint, with the Graph emulator standing
 * in for Microsoft's cloud. Publishes a protobuf ConnectorSyncRequest as
 * EchoMind's orchestrator would, then changes the source and syncs again.
 *
 *   npm run demo            # run the two syncs and exit
 *   npm run demo -- --stay  # keep the service running afterwards (Ctrl-C stops it)
 */
import { jetstream } from '@nats-io/jetstream';
import { create, toBinary } from '@bufbuild/protobuf';
import { loadConfig } from '../src/config.js';
import { ConnectorSyncRequestSchema } from '../src/gen/echomind/internal/connector_sync_pb.js';
import { ConnectorScope, ConnectorType } from '../src/gen/echomind/public/connector_pb.js';
import { createLogger } from '../src/logger.js';
import { startService } from '../src/service.js';
import { installTemporalRuntime } from '../src/temporal-runtime.js';
import { startGraphEmulator } from '../test/emulators/graph/index.js';

const stay = process.argv.includes('--stay');

async function main(): Promise<void> {
  const emulator = await startGraphEmulator();
  emulator.addFolder('/', 'Handbook');
  emulator.addFile('/Handbook', 'onboarding.md', '# Onboarding\n\nWelcome to the team.\n');
  emulator.addFile('/Handbook', 'travel-policy.pdf', '%PDF-1.4 travel policy (demo bytes)');
  emulator.addFile('/', 'roadmap.txt', 'Q1: connectors. Q2: search.');
  emulator.addFile('/', 'budget.xlsx', 'spreadsheet bytes the ingestor does not accept');

  const config = loadConfig({
    ...process.env,
    MS_GRAPH_BASE_URL: emulator.graphBaseUrl,
    MS_LOGIN_BASE_URL: emulator.loginBaseUrl,
    MS_GRAPH_CLIENT_ID: emulator.settings.clientId,
    MS_GRAPH_CLIENT_SECRET: emulator.settings.clientSecret,
    MS_GRAPH_TENANT_ID: emulator.settings.tenantId,
  });
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const runtime = await installTemporalRuntime(logger);
  const service = await startService(config, logger, { migrate: true, runtimeMetricsUrl: runtime.metricsUrl });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`service up: health http://${config.health.host}:${config.health.port}/healthz, Temporal UI http://127.0.0.1:8233`);

  const user = await service.db.insertInto('users').values({ email: 'demo@example.test' }).returning('id').executeTakeFirstOrThrow();
  const connector = await service.db
    .insertInto('connectors')
    .values({ name: 'Demo OneDrive', type: 'onedrive', config: JSON.stringify({ drive_id: emulator.drive.id }), user_id: user.id })
    .returning('id')
    .executeTakeFirstOrThrow();

  const sync = async (label: string) => {
    const requestedAt = Date.now();
    const bytes = toBinary(
      ConnectorSyncRequestSchema,
      create(ConnectorSyncRequestSchema, {
        connectorId: connector.id,
        type: ConnectorType.ONEDRIVE,
        userId: user.id,
        scope: ConnectorScope.USER,
        chunkingSession: crypto.randomUUID(),
      }),
    );
    await jetstream(service.nats).publish('connector.sync.onedrive', bytes);
    say(`\n${label}: published ConnectorSyncRequest for connector ${connector.id} on connector.sync.onedrive`);
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      const row = await service.db.selectFrom('connectors').selectAll().where('id', '=', connector.id).executeTakeFirstOrThrow();
      const done = (row.status === 'active' || row.status === 'error') && (row.last_update?.getTime() ?? 0) >= requestedAt;
      if (!done) continue;
      say(`  connector status: ${row.status} — ${row.status_message}`);
      const docs = await service.db.selectFrom('documents').selectAll().where('connector_id', '=', connector.id).orderBy('id').execute();
      for (const d of docs) say(`  document ${d.id}: ${d.status.padEnd(8)} ${d.content_type?.padEnd(16) ?? ''} s3://${config.objectStore.bucket}/${d.url}`);
      say(`  workflow: http://127.0.0.1:8233/namespaces/${config.temporal.namespace}/workflows/connector-sync-${connector.id}`);
      return;
    }
  };

  await sync('first sync');
  emulator.updateFile('/roadmap.txt', 'Q1: connectors. Q2: search. Q3: agents.');
  emulator.rename('/Handbook/onboarding.md', 'welcome.md');
  emulator.delete('/Handbook/travel-policy.pdf');
  await sync('after editing roadmap.txt, renaming onboarding.md and deleting travel-policy.pdf');

  if (stay) {
    say('\nthe service keeps running (Ctrl-C stops it)');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await service.stop();
  await emulator.close();
}

main().catch((e: unknown) => {
  console.error('demo failed:', e instanceof Error ? e.message : e);
  process.exit(1);
});
