/**
 * The service end to end on its local defaults: the real local stack, the
 * bridge, the worker and the health endpoint, with the project's emulators
 * standing in for Microsoft's and Google's clouds. For each source it publishes
 * a protobuf ConnectorSyncRequest as EchoMind's orchestrator would, then
 * changes the source (an edit, a rename or a new reply, a deletion) and syncs again.
 *
 *   npm run demo                          # OneDrive: the two syncs, then exit
 *   npm run demo -- --source teams        # Teams (onedrive, teams, google_drive or all)
 *   npm run demo -- --stay                # keep the service running afterwards (Ctrl-C stops it)
 */
import { jetstream } from '@nats-io/jetstream';
import { create, toBinary } from '@bufbuild/protobuf';
import type { Kysely } from 'kysely';
import { loadConfig, type Config } from '../src/config.js';
import type { Database } from '../src/db/schema.js';
import { ConnectorSyncRequestSchema } from '../src/gen/echomind/internal/connector_sync_pb.js';
import { ConnectorScope, ConnectorType } from '../src/gen/echomind/public/connector_pb.js';
import { createLogger } from '../src/logger.js';
import { startService, type RunningService } from '../src/service.js';
import { installTemporalRuntime } from '../src/temporal-runtime.js';
import { DEFAULT_CLIENT, DEFAULT_USER, startDriveEmulator, type DriveEmulator } from '../test/emulators/drive/index.js';
import { startGraphEmulator, type GraphEmulator } from '../test/emulators/graph/index.js';

const SOURCES = ['onedrive', 'teams', 'google_drive'] as const;
type Source = (typeof SOURCES)[number];

const say = (line: string) => process.stdout.write(`${line}\n`);

/** `--source X` or `--source=X`; OneDrive when absent. */
function sourcesAsked(argv: string[]): Source[] {
  const i = argv.findIndex((a) => a === '--source' || a.startsWith('--source='));
  if (i < 0) return ['onedrive'];
  const asked = argv[i]?.includes('=') ? argv[i]?.slice('--source='.length) : argv[i + 1];
  if (asked === 'all') return [...SOURCES];
  if ((SOURCES as readonly string[]).includes(asked ?? '')) return [asked as Source];
  throw new Error(`--source takes one of ${SOURCES.join(', ')} or all (got ${asked ?? 'nothing'})`);
}

/** One source's story: its connector, its sync subject, and what changes between the two syncs. */
interface Scene {
  label: string;
  subject: string;
  type: ConnectorType;
  connector: (db: Kysely<Database>, userId: number) => Promise<number>;
  /** Changes the source between the first sync and the second; returns what it did, in words. */
  change: () => string;
}

async function insertConnector(db: Kysely<Database>, row: { name: string; type: string; config: Record<string, unknown>; userId: number; googleCredentialId?: number }): Promise<number> {
  const inserted = await db
    .insertInto('connectors')
    .values({ name: row.name, type: row.type, config: JSON.stringify(row.config), user_id: row.userId, google_credential_id: row.googleCredentialId ?? null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return inserted.id;
}

function oneDriveScene(emulator: GraphEmulator): Scene {
  emulator.addFolder('/', 'Handbook');
  emulator.addFile('/Handbook', 'onboarding.md', '# Onboarding\n\nWelcome to the team.\n');
  emulator.addFile('/Handbook', 'travel-policy.pdf', '%PDF-1.4 travel policy (demo bytes)');
  emulator.addFile('/', 'roadmap.txt', 'Q1: connectors. Q2: search.');
  emulator.addFile('/', 'budget.xlsx', 'spreadsheet bytes the ingestor does not accept');
  return {
    label: 'OneDrive',
    subject: 'connector.sync.onedrive',
    type: ConnectorType.ONEDRIVE,
    connector: (db, userId) => insertConnector(db, { name: 'Demo OneDrive', type: 'onedrive', config: { drive_id: emulator.drive.id }, userId }),
    change: () => {
      emulator.updateFile('/roadmap.txt', 'Q1: connectors. Q2: search. Q3: agents.');
      emulator.rename('/Handbook/onboarding.md', 'welcome.md');
      emulator.delete('/Handbook/travel-policy.pdf');
      return 'editing roadmap.txt, renaming onboarding.md and deleting travel-policy.pdf';
    },
  };
}

function teamsScene(emulator: GraphEmulator): Scene {
  // Posted a while ago: outside the few minutes a first delta round reads again.
  const at = new Date(Date.now() - 20 * 60_000);
  const team = emulator.teams.addTeam('Launch');
  const general = emulator.teams.addChannel(team.id, 'General');
  const folder = emulator.teams.filesFolderItem(general);
  emulator.addFile(folder.id, 'launch-plan.pdf', '%PDF-1.4 launch plan (demo bytes)', { driveId: folder.driveId });
  const kickoff = emulator.teams.post(general, { at, subject: 'Kickoff', html: '<p>Launch is on the 14th. Plan in the channel files.</p>' });
  emulator.teams.reply(general, kickoff.id, { at, html: '<p>Great, <at id="0">Alice Example</at> will present.</p>' });
  const agenda = emulator.teams.post(general, { at, subject: 'Agenda', html: '<p>Draft agenda: demo, questions</p>' });
  const lunch = emulator.teams.post(general, { at, subject: 'Lunch', html: '<p>Pizza on Friday?</p>' });
  return {
    label: 'Teams',
    subject: 'connector.sync.teams',
    type: ConnectorType.TEAMS,
    connector: (db, userId) => insertConnector(db, { name: 'Demo Teams', type: 'teams', config: { team_id: team.id }, userId }),
    change: () => {
      emulator.teams.edit(general, agenda.id, '<p>Final agenda: demo, questions, next steps</p>');
      emulator.teams.reply(general, kickoff.id, { html: '<p>Slides are ready.</p>' });
      emulator.teams.deleteMessage(general, lunch.id);
      return 'editing the Agenda thread, replying to Kickoff and deleting the Lunch thread';
    },
  };
}

function googleDriveScene(emulator: DriveEmulator): Scene {
  const root = emulator.myDrive();
  const handbook = emulator.addFolder(root, 'Handbook');
  const onboarding = emulator.addFile(handbook, 'onboarding.md', '# Onboarding\n\nWelcome to the team.\n', { mimeType: 'text/markdown' });
  const travel = emulator.addFile(handbook, 'travel-policy.pdf', '%PDF-1.4 travel policy (demo bytes)', { mimeType: 'application/pdf' });
  const roadmap = emulator.addFile(root, 'roadmap.txt', 'Q1: connectors. Q2: search.', { mimeType: 'text/plain' });
  return {
    label: 'Google Drive',
    subject: 'connector.sync.google_drive',
    type: ConnectorType.GOOGLE_DRIVE,
    connector: async (db, userId) => {
      // The user's OAuth grant, as EchoMind's sign-in writes it.
      const credential = await db
        .insertInto('google_credentials')
        .values({
          user_id: userId,
          refresh_token: emulator.issueRefreshToken(DEFAULT_USER),
          granted_scopes: ['https://www.googleapis.com/auth/drive.readonly'],
          client_id: DEFAULT_CLIENT.clientId,
          client_secret: DEFAULT_CLIENT.clientSecret,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return insertConnector(db, { name: 'Demo Google Drive', type: 'google_drive', config: {}, userId, googleCredentialId: credential.id });
    },
    change: () => {
      emulator.update(roadmap, { content: 'Q1: connectors. Q2: search. Q3: agents.' });
      emulator.rename(onboarding, 'welcome.md');
      emulator.trash(travel);
      return 'editing roadmap.txt, renaming onboarding.md and moving travel-policy.pdf to the trash';
    },
  };
}

/** Publishes a ConnectorSyncRequest and waits for the connector to be `active` or `error`, then prints what EchoMind sees. */
async function syncAndShow(service: RunningService, config: Config, scene: Scene, connectorId: number, userId: number, label: string): Promise<void> {
  const requestedAt = Date.now();
  const bytes = toBinary(
    ConnectorSyncRequestSchema,
    create(ConnectorSyncRequestSchema, { connectorId, type: scene.type, userId, scope: ConnectorScope.USER, chunkingSession: crypto.randomUUID() }),
  );
  await jetstream(service.nats).publish(scene.subject, bytes);
  say(`\n${scene.label}, ${label}: published ConnectorSyncRequest for connector ${connectorId} on ${scene.subject}`);
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const row = await service.db.selectFrom('connectors').selectAll().where('id', '=', connectorId).executeTakeFirstOrThrow();
    const done = (row.status === 'active' || row.status === 'error') && (row.last_update?.getTime() ?? 0) >= requestedAt;
    if (!done) continue;
    say(`  connector status: ${row.status} — ${row.status_message}`);
    const docs = await service.db.selectFrom('documents').selectAll().where('connector_id', '=', connectorId).orderBy('id').execute();
    for (const d of docs) say(`  document ${d.id}: ${d.status.padEnd(8)} ${d.content_type?.padEnd(16) ?? ''} s3://${config.objectStore.bucket}/${d.url}`);
    const ui = process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233';
    say(`  workflow: ${ui}/namespaces/${config.temporal.namespace}/workflows/connector-sync-${connectorId}`);
    return;
  }
}

async function main(): Promise<void> {
  const sources = sourcesAsked(process.argv.slice(2));
  const stay = process.argv.includes('--stay');
  const graph = sources.some((s) => s !== 'google_drive') ? await startGraphEmulator() : undefined;
  const drive = sources.includes('google_drive') ? await startDriveEmulator() : undefined;
  const serviceAccount = drive?.createServiceAccount({ delegation: true });

  const config = loadConfig({
    ...process.env,
    ...(graph
      ? {
          MS_GRAPH_BASE_URL: graph.graphBaseUrl,
          MS_LOGIN_BASE_URL: graph.loginBaseUrl,
          MS_GRAPH_CLIENT_ID: graph.settings.clientId,
          MS_GRAPH_CLIENT_SECRET: graph.settings.clientSecret,
          MS_GRAPH_TENANT_ID: graph.settings.tenantId,
        }
      : {}),
    ...(drive && serviceAccount
      ? { GOOGLE_DRIVE_BASE_URL: drive.driveBaseUrl, GOOGLE_OAUTH_TOKEN_URL: drive.tokenUrl, GOOGLE_SERVICE_ACCOUNT_JSON: serviceAccount.json }
      : {}),
  });
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const runtime = await installTemporalRuntime(logger);
  const service = await startService(config, logger, { migrate: true, runtimeMetricsUrl: runtime.metricsUrl });
  say(`service up: health http://${config.health.host}:${config.health.port}/healthz, Temporal UI ${process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233'}`);

  const user = await service.db.insertInto('users').values({ email: 'demo@example.test' }).returning('id').executeTakeFirstOrThrow();
  for (const source of sources) {
    const scene =
      source === 'onedrive' ? oneDriveScene(graph as GraphEmulator) : source === 'teams' ? teamsScene(graph as GraphEmulator) : googleDriveScene(drive as DriveEmulator);
    const connectorId = await scene.connector(service.db, user.id);
    await syncAndShow(service, config, scene, connectorId, user.id, 'first sync');
    const changed = scene.change();
    await syncAndShow(service, config, scene, connectorId, user.id, `after ${changed}`);
  }

  if (stay) {
    say('\nthe service keeps running (Ctrl-C stops it)');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await service.stop();
  await graph?.close();
  await drive?.close();
}

main().catch((e: unknown) => {
  console.error('demo failed:', e instanceof Error ? e.message : e);
  process.exit(1);
});
