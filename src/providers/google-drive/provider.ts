import type { Config } from '../../config.js';
import type { SourceProvider } from '../types.js';
import { listDriveChanges } from './changes.js';
import { parseDriveConfig } from './config.js';
import { openDriveContent } from './content.js';
import type { GoogleCredentialStore } from './credentials.js';
import { parseDriveCursor, type DriveCursor } from './cursor.js';
import { openDriveSession } from './session.js';

/**
 * The Google Drive source: see README.md in this folder for its config keys and
 * behaviour. `credentials` is where EchoMind keeps users' Google grants.
 */
export function createGoogleDriveProvider(settings: Config['google'], credentials: GoogleCredentialStore): SourceProvider<DriveCursor> {
  return {
    type: 'google_drive',
    validateConfig(config) {
      parseDriveConfig(config);
    },
    parseCursor: parseDriveCursor,
    async listChanges(ctx, cursor) {
      return listDriveChanges(await openDriveSession(ctx, settings, credentials), cursor);
    },
    async openContent(ctx, item) {
      return openDriveContent(await openDriveSession(ctx, settings, credentials), item);
    },
  };
}
