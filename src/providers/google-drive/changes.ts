import { CursorExpiredError } from '../../errors.js';
import type { ChangePage } from '../types.js';
import { checkBeforePass, readChangeLogPage } from './change-log.js';
import { walkDone, walkOnePage } from './crawl.js';
import type { ChangeLog, ChangesCursor, CrawlCursor, DriveCursor } from './cursor.js';
import { cursorKey } from './config.js';
import { resolveScopeRoots } from './roots.js';
import type { DriveSession } from './session.js';

/**
 * One page of changes from a cursor: the state machine over the two phases.
 * Each call lists at most one API page (a folder's children or a change log's
 * page), plus the lookups that page needs (shortcut targets, unknown folders).
 */

async function startEnumeration(session: DriveSession, scope: string): Promise<ChangePage<DriveCursor>> {
  await session.folders.clear();
  const roots = await resolveScopeRoots(session);
  // Start tokens BEFORE the crawl: whatever changes while we list is then in the logs.
  const logs: ChangeLog[] = [];
  for (const root of roots) logs.push({ ...root, token: await session.client.startPageToken(root.driveId) });
  await session.folders.put(roots.map((r) => ({ folderId: r.root, parentId: null, inScope: true })));
  const pending = roots.map((r) => ({ folderId: r.root, ...(r.driveId ? { driveId: r.driveId } : {}), mode: 'upsert' as const })).reverse();
  session.logger.info({ roots: roots.length, scope }, 'Google Drive: start tokens taken, crawling the scope');
  return crawlPage(session, { v: 1, phase: 'crawl', scope, logs, pending, current: null });
}

async function crawlPage(session: DriveSession, cursor: CrawlCursor): Promise<ChangePage<DriveCursor>> {
  const walked = await walkOnePage(session, cursor);
  if (!walkDone(walked.state)) {
    return { changes: walked.changes, cursor: { ...cursor, ...walked.state }, hasMore: true, fullEnumeration: true };
  }
  // Crawl done: the logs resume at the start tokens, so edits made during the crawl come next.
  const changesCursor: ChangesCursor = { v: 1, phase: 'changes', scope: cursor.scope, logs: cursor.logs, pending: [], current: null, next: 0 };
  return { changes: walked.changes, cursor: changesCursor, hasMore: true, fullEnumeration: true, enumerationComplete: true };
}

const moreToRead = (cursor: ChangesCursor): boolean => !walkDone(cursor) || cursor.next < cursor.logs.length;

async function changesPage(session: DriveSession, cursor: ChangesCursor): Promise<ChangePage<DriveCursor>> {
  if (!walkDone(cursor)) {
    // Subtree walks first: they finish what an already-read change started.
    const walked = await walkOnePage(session, cursor);
    const next: ChangesCursor = { ...cursor, ...walked.state };
    return { changes: walked.changes, cursor: next, hasMore: moreToRead(next), fullEnumeration: false };
  }
  let from = cursor;
  if (cursor.next >= cursor.logs.length) {
    await checkBeforePass(session, cursor);
    from = { ...cursor, next: 0 };
  }
  const read = await readChangeLogPage(session, from);
  return { changes: read.changes, cursor: read.cursor, hasMore: moreToRead(read.cursor), fullEnumeration: false };
}

export async function listDriveChanges(session: DriveSession, cursor: DriveCursor | null): Promise<ChangePage<DriveCursor>> {
  const scope = cursorKey(session.config);
  if (cursor === null) return startEnumeration(session, scope);
  if (cursor.scope !== scope) {
    throw new CursorExpiredError(
      `the connector's Google Drive scope or export formats changed (${cursor.scope} → ${scope}); enumerating the scope again`,
      'scopeChanged',
    );
  }
  return cursor.phase === 'crawl' ? crawlPage(session, cursor) : changesPage(session, cursor);
}
