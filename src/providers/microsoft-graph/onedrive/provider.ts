import type { Config } from '../../../config.js';
import type { SourceProvider } from '../../types.js';
import { resolveGraphIdentity } from '../identity.js';
import { listDriveChanges } from './changes.js';
import { parseOneDriveConfig } from './config.js';
import { openDriveItemContent } from './content.js';
import { type OneDriveCursor, parseOneDriveCursor } from './cursor.js';
import { openOneDriveSession } from './session.js';

/**
 * OneDrive and SharePoint document libraries through Microsoft Graph drive
 * delta. Config keys: see config.ts (drive, folder) and ../identity.ts (sign-in),
 * or this folder's README.
 */
export function createOneDriveProvider(settings: Config['microsoft']): SourceProvider<OneDriveCursor> {
  return {
    type: 'onedrive',
    validateConfig(config) {
      parseOneDriveConfig(config);
      resolveGraphIdentity(config, settings);
    },
    parseCursor: (raw) => parseOneDriveCursor(raw, settings.graphBaseUrl),
    async listChanges(ctx, cursor) {
      return listDriveChanges(openOneDriveSession(ctx, settings), cursor);
    },
    async openContent(ctx, item) {
      return openDriveItemContent(openOneDriveSession(ctx, settings), item);
    },
  };
}
