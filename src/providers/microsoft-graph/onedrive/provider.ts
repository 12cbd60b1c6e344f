import type { Config } from '../../../config.js';
import type { SourceProvider } from '../../types.js';
import { resolveGraphIdentity } from '../identity.js';
import { CursorExpiredError } from '../../../errors.js';
import { listDriveChanges } from './changes.js';
import { parseOneDriveConfig } from './config.js';
import { openDriveItemContent } from './content.js';
import { type OneDriveCursor, parseOneDriveCursor, parseSiteCursor, type SiteCursor } from './cursor.js';
import { openOneDriveSession } from './session.js';
import { listSiteChanges } from './site.js';

const isSiteCursor = (cursor: OneDriveCursor | SiteCursor): cursor is SiteCursor => 'libraries' in cursor;

/**
 * OneDrive and SharePoint document libraries through Microsoft Graph drive
 * delta. Config keys: see config.ts (drive, folder) and ../identity.ts (sign-in),
 * or this folder's README.
 */
export function createOneDriveProvider(settings: Config['microsoft']): SourceProvider<OneDriveCursor | SiteCursor> {
  return {
    type: 'onedrive',
    validateConfig(config) {
      parseOneDriveConfig(config);
      resolveGraphIdentity(config, settings);
    },
    parseCursor: (raw) => parseOneDriveCursor(raw, settings.graphBaseUrl) ?? parseSiteCursor(raw, settings.graphBaseUrl),
    async listChanges(ctx, cursor) {
      const session = openOneDriveSession(ctx, settings);
      const wholeSite = session.config.target.kind === 'site-libraries';
      if (cursor && isSiteCursor(cursor) !== wholeSite) {
        throw new CursorExpiredError('the connector now names another drive, site or set of libraries: enumerating it afresh', 'scopeChanged');
      }
      if (wholeSite) return listSiteChanges(session, cursor && isSiteCursor(cursor) ? cursor : null);
      return listDriveChanges(session, cursor && !isSiteCursor(cursor) ? cursor : null);
    },
    async openContent(ctx, item) {
      return openDriveItemContent(openOneDriveSession(ctx, settings), item);
    },
  };
}
