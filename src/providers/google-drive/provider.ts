import type { Config } from '../../config.js';
import type { SourceProvider } from '../types.js';
import { openDriveContent } from './content.js';
import { parseDriveCursor, type DriveCursor } from './cursor.js';
import { parseDriveConfig } from './drive-config.js';
import { listDriveChanges } from './list-changes.js';
import { openDriveSession } from './session.js';

/** The Google Drive source: see README.md in this folder for its config keys and behaviour. */
export function createGoogleDriveProvider(settings: Config['google']): SourceProvider<DriveCursor> {
  return {
    type: 'google_drive',
    validateConfig(config) {
      parseDriveConfig(config);
    },
    parseCursor: parseDriveCursor,
    async listChanges(ctx, cursor) {
      return listDriveChanges(await openDriveSession(ctx, settings), cursor);
    },
    async openContent(ctx, item) {
      return openDriveContent(await openDriveSession(ctx, settings), item);
    },
  };
}
