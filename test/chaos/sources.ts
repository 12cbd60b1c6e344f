import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.js';
import { DEFAULT_CLIENT, DEFAULT_USER, startDriveEmulator, type DriveEmulator } from '../emulators/drive/index.js';
import { startGraphEmulator, type GraphEmulator } from '../emulators/graph/index.js';
import { createConnector } from '../support/integration.js';
import { driveEnv, graphEnv } from '../support/service-suite.js';
import { RequestGate } from '../emulators/gate.js';

/** The two sources the chaos suite attacks, each behind its project emulator. */
export type ChaosSource = 'onedrive' | 'google_drive';

export interface SourceUnderTest {
  type: ChaosSource;
  subject: string;
  /** Settings the service needs to reach this emulator (names from src/config.ts). */
  env: Record<string, string>;
  /** Adds `count` small files spread over `folders` folders; returns their source ids. */
  populate(count: number, folders?: number): string[];
  /** A connector row syncing the populated drive. */
  connector(db: Kysely<Database>, userId: number, extraConfig?: Record<string, unknown>): Promise<number>;
  /** Puts a gate on the emulator's file downloads (the bytes of a file, after any redirect) and returns it. */
  gateDownloads(): RequestGate;
  close(): Promise<void>;
}

const body = (i: number) => `file ${i}\n`.repeat(40);

/** OneDrive behind a Graph emulator of its own. */
export async function oneDriveSource(): Promise<SourceUnderTest & { emulator: GraphEmulator }> {
  return oneDriveSourceOn(await startGraphEmulator());
}

/** OneDrive behind the given Graph emulator (a suite's). */
export function oneDriveSourceOn(emulator: GraphEmulator): SourceUnderTest & { emulator: GraphEmulator } {
  return {
    type: 'onedrive',
    subject: 'connector.sync.onedrive',
    emulator,
    env: graphEnv(emulator),
    populate(count, folders = 20) {
      const dirs = Array.from({ length: folders }, (_, i) => emulator.addFolder('/', `folder-${String(i).padStart(2, '0')}`).id);
      return Array.from(
        { length: count },
        (_, i) => emulator.addFile(dirs[i % folders] ?? '/', `doc-${String(i).padStart(4, '0')}.txt`, body(i)).id,
      );
    },
    connector: (db, userId, extraConfig = {}) =>
      createConnector(db, { type: 'onedrive', config: { drive_id: emulator.drive.id, ...extraConfig }, userId }),
    gateDownloads() {
      // `/content` answers 302 to the pre-authenticated `/download/…` link, which serves the bytes.
      emulator.gate = new RequestGate((_method, url) => url.pathname.startsWith('/download/'));
      return emulator.gate;
    },
    close: () => emulator.close(),
  };
}

export async function googleDriveSource(): Promise<SourceUnderTest & { emulator: DriveEmulator }> {
  const emulator = await startDriveEmulator();
  const serviceAccount = emulator.createServiceAccount({ delegation: true });
  return {
    type: 'google_drive',
    subject: 'connector.sync.google_drive',
    emulator,
    env: { ...driveEnv(emulator), GOOGLE_SERVICE_ACCOUNT_JSON: serviceAccount.json },
    populate(count, folders = 20) {
      const root = emulator.myDrive();
      const dirs = Array.from({ length: folders }, (_, i) => emulator.addFolder(root, `folder-${String(i).padStart(2, '0')}`));
      return Array.from({ length: count }, (_, i) =>
        emulator.addFile(dirs[i % folders] ?? root, `doc-${String(i).padStart(4, '0')}.txt`, body(i), { mimeType: 'text/plain' }),
      );
    },
    async connector(db, userId, extraConfig = {}) {
      // The user's OAuth grant, as EchoMind's sign-in writes it (one per user: a second connector shares it).
      const existing = await db.selectFrom('google_credentials').select('id').where('user_id', '=', userId).executeTakeFirst();
      const credential = existing ?? await db
        .insertInto('google_credentials')
        .values({
          user_id: userId,
          access_token: null,
          refresh_token: emulator.issueRefreshToken(DEFAULT_USER),
          token_expires_at: null,
          granted_scopes: ['https://www.googleapis.com/auth/drive.readonly'],
          client_id: DEFAULT_CLIENT.clientId,
          client_secret: DEFAULT_CLIENT.clientSecret,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return createConnector(db, { type: 'google_drive', config: extraConfig, userId, googleCredentialId: credential.id });
    },
    gateDownloads() {
      // files.get with `alt=media` serves the bytes.
      emulator.gate = new RequestGate((_method, url) => url.searchParams.get('alt') === 'media');
      return emulator.gate;
    },
    close: () => emulator.close(),
  };
}
