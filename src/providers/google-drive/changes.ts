import { CursorExpiredError, isCursorExpired } from '../../errors.js';
import { checkEnumerationDue } from '../full-enumeration.js';
import type { ChangePage, SourceChange } from '../types.js';
import { checkBeforePass, readChangeLogPage } from './change-log.js';
import { walkDone, walkOnePage } from './crawl.js';
import { parseDriveCursor, type ChangeLog, type ChangesCursor, type CrawlCursor, type DriveCursor } from './cursor.js';
import { cursorKey } from './config.js';
import { lostScopePage } from './lost-scope.js';
import { resolveScopeRoots } from './roots.js';
import { LogCorpora, type DriveSession } from './session.js';
import { refreshForeignTargets } from './shortcuts.js';

/**
 * One page of changes from a cursor: the state machine over the phases.
 * Each call lists at most one API page (a folder's children or a change log's
 * page), plus the lookups that page needs (shortcut targets, unknown folders).
 */

type WalkingCursor = CrawlCursor | ChangesCursor;

/** The session learns which corpora the logs cover and the targets to refresh; the cursor gets the targets back. */
function withTargets<C extends WalkingCursor>(session: DriveSession, cursor: C): C {
  const targets = [...session.foreignTargets].map(([id, resourceKey]) => ({ id, ...(resourceKey ? { resourceKey } : {}) }));
  const { targets: _old, ...rest } = cursor;
  return (targets.length > 0 ? { ...rest, targets } : rest) as C;
}

function loadCursor(session: DriveSession, cursor: WalkingCursor): void {
  session.corpora = LogCorpora.of(cursor.logs);
  session.foreignTargets = new Map((cursor.targets ?? []).map((t) => [t.id, t.resourceKey]));
}

const whereOf = (cursor: WalkingCursor) => ({ roots: new Set(cursor.logs.map((l) => l.root)), scope: cursor.scope });

async function startEnumeration(session: DriveSession, scope: string): Promise<ChangePage<DriveCursor>> {
  await session.folders.clear();
  const roots = await resolveScopeRoots(session);
  // Start tokens BEFORE the crawl: whatever changes while we list is then in the logs.
  const logs: ChangeLog[] = [];
  for (const root of roots) logs.push({ root: root.root, ...(root.driveId ? { driveId: root.driveId } : {}), token: await session.client.startPageToken(root.driveId) });
  await session.folders.put(roots.map((r) => ({ folderId: r.root, parentId: null, inScope: true })));
  const pending = roots
    .map((r) => ({
      folderId: r.root,
      ...(r.driveId ? { driveId: r.driveId } : {}),
      ...(r.resourceKey ? { resourceKey: r.resourceKey } : {}),
      mode: 'upsert' as const,
    }))
    .reverse();
  session.logger.info({ roots: roots.length, scope }, 'Google Drive: start tokens taken, crawling the scope');
  const cursor: CrawlCursor = { v: 1, phase: 'crawl', scope, logs, pending, current: null };
  loadCursor(session, cursor);
  return crawlPage(session, cursor);
}

async function crawlPage(session: DriveSession, cursor: CrawlCursor): Promise<ChangePage<DriveCursor>> {
  const walked = await walkOnePage(session, cursor, whereOf(cursor));
  if (!walkDone(walked.state)) {
    return { changes: walked.changes, cursor: withTargets(session, { ...cursor, ...walked.state }), hasMore: true, fullEnumeration: true };
  }
  // Crawl done: the logs resume at the start tokens, so edits made during the crawl come next.
  const changesCursor: ChangesCursor = {
    v: 1,
    phase: 'changes',
    scope: cursor.scope,
    logs: cursor.logs.map((log) => ({ ...log, fresh: true as const })),
    pending: [],
    current: null,
    next: 0,
    enumeratedAt: new Date().toISOString(),
  };
  return { changes: walked.changes, cursor: withTargets(session, changesCursor), hasMore: true, fullEnumeration: true, enumerationComplete: true };
}

const moreToRead = (cursor: ChangesCursor): boolean => !walkDone(cursor) || cursor.next < cursor.logs.length;

async function changesPage(session: DriveSession, cursor: ChangesCursor): Promise<ChangePage<DriveCursor>> {
  if (!walkDone(cursor)) {
    // Subtree walks first: they finish what an already-read change started.
    const walked = await walkOnePage(session, cursor, whereOf(cursor));
    const next: ChangesCursor = withTargets(session, { ...cursor, ...walked.state });
    return { changes: walked.changes, cursor: next, hasMore: moreToRead(next), fullEnumeration: false };
  }
  let from = cursor;
  const refreshed: SourceChange[] = [];
  if (cursor.next >= cursor.logs.length) {
    await checkBeforePass(session, cursor);
    // No log of ours carries these targets' edits or deletion: one files.get each, once per pass.
    refreshed.push(...(await refreshForeignTargets(session)));
    from = { ...cursor, next: 0 };
  }
  const read = await readChangeLogPage(session, from);
  const next = withTargets(session, read.cursor);
  return { changes: [...refreshed, ...read.changes], cursor: next, hasMore: moreToRead(next), fullEnumeration: false };
}

/**
 * The periodic full enumeration (../full-enumeration.ts), checked where a sync starts from
 * caught-up logs. Its crawl starts from nothing, as the first sync does: start tokens for every
 * log taken before it, every corpus of the scope and every shortcut's target listed again.
 */
function checkDueAtRest(session: DriveSession, cursor: ChangesCursor, now: number): void {
  if (!moreToRead(cursor)) checkEnumerationDue(cursor.enumeratedAt, session.config.fullEnumerationDays, now);
}

/** A cursor saved before the time of the last enumeration was kept counts from its next pass. */
const stamped = (cursor: ChangesCursor): ChangesCursor => (cursor.enumeratedAt ? cursor : { ...cursor, enumeratedAt: new Date().toISOString() });

export async function listDriveChanges(session: DriveSession, cursor: DriveCursor | null): Promise<ChangePage<DriveCursor>> {
  const scope = cursorKey(session.config);
  if (cursor === null) return startEnumeration(session, scope);
  if (cursor.scope !== scope) {
    throw new CursorExpiredError(
      `the connector's Google Drive scope or export formats changed (${cursor.scope} → ${scope}); enumerating the scope again`,
      'scopeChanged',
    );
  }
  const enumerate = () => startEnumeration(session, scope);
  if (cursor.phase === 'lost') return lostScopePage(session, cursor, enumerate);
  if (cursor.phase === 'changes') checkDueAtRest(session, cursor, Date.now());
  loadCursor(session, cursor);
  try {
    return await (cursor.phase === 'crawl' ? crawlPage(session, cursor) : changesPage(session, stamped(cursor)));
  } catch (e) {
    // The scope's root is gone: answered here, in this call, rather than as a restart (nothing is enumerated again).
    const lost = isCursorExpired(e) ? parseDriveCursor(e.restartFrom) : null;
    if (lost?.phase !== 'lost') throw e;
    return lostScopePage(session, lost, enumerate);
  }
}
