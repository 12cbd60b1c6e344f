import type { Config } from '../../../config.js';
import { CursorExpiredError } from '../../../errors.js';
import { checkEnumerationDue } from '../../full-enumeration.js';
import { sessionPerContext } from '../../session-per-context.js';
import type { SourceProvider } from '../../types.js';
import { resolveGraphIdentity } from '../identity.js';
import { listDriveChanges } from './changes.js';
import { type OneDriveConfig, parseOneDriveConfig } from './config.js';
import { openDriveItemContent } from './content.js';
import { type OneDriveCursor, parseOneDriveCursor, parseSiteCursor, type SiteCursor } from './cursor.js';
import { openOneDriveSession } from './session.js';
import { listSiteChanges } from './site.js';

const isSiteCursor = (cursor: OneDriveCursor | SiteCursor): cursor is SiteCursor => 'libraries' in cursor;

/**
 * The periodic full enumeration (../../full-enumeration.ts), checked where a sync starts from a
 * caught-up cursor.
 */
function checkDueAtRest(cursor: OneDriveCursor | SiteCursor, config: OneDriveConfig, now: number): void {
  const atRest = isSiteCursor(cursor) ? cursor.at >= cursor.libraries.length : cursor.caughtUp && cursor.relist === undefined;
  if (atRest) checkEnumerationDue(cursor.enumeratedAt, config.fullEnumerationDays, now);
}

/**
 * OneDrive and SharePoint document libraries through Microsoft Graph drive
 * delta. Config keys: see config.ts (drive, folder) and ../identity.ts (sign-in),
 * or this folder's README.
 */
export function createOneDriveProvider(settings: Config['microsoft']): SourceProvider<OneDriveCursor | SiteCursor> {
  const contentSession = sessionPerContext((ctx) => openOneDriveSession(ctx, settings));
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
      if (cursor) checkDueAtRest(cursor, session.config, Date.now());
      if (wholeSite) return listSiteChanges(session, cursor && isSiteCursor(cursor) ? cursor : null);
      return listDriveChanges(session, cursor && !isSiteCursor(cursor) ? cursor : null);
    },
    async openContent(ctx, item) {
      return openDriveItemContent(contentSession(ctx), item);
    },
  };
}
