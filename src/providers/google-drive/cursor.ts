import { z } from 'zod';

/**
 * Where a Google Drive connector stands, saved in `connectors.state` after each
 * page. Two phases: `crawl` (the first full listing, folder by folder) and
 * `changes` (the change logs, from the start tokens taken before the crawl).
 *
 * What it holds, and why it stays small:
 * - `logs`: one change log per corpus: the identity's own log for My Drive or a
 *   folder, one per shared drive. Bounded by MAX_CHANGE_LOGS (all_shared_drives
 *   refuses more drives than that).
 * - `pending`/`current`: folders still to list. During the crawl this is the
 *   frontier of a depth-first walk (it shrinks back to empty); during changes it
 *   holds only folders that just moved into or out of scope.
 * - `targets`: shortcut targets (files) in a corpus whose change log we do not
 *   read; each pass re-reads them with one `files.get` (bounded by MAX_FOREIGN_TARGETS).
 * No set of seen ids: the pipeline's enumeration marks do that job.
 *
 * A third phase, `lost`, says the scope itself (the shared drive or folder the
 * config names) is gone: see `lost-scope.ts`.
 */

/** One shared drive per log, plus the identity's own: a cursor of ~100 bytes per drive. */
export const MAX_SHARED_DRIVES = 200;
export const MAX_CHANGE_LOGS = MAX_SHARED_DRIVES + 1;
/** Shortcut targets refreshed one by one each pass; beyond this, only a full enumeration refreshes them. */
export const MAX_FOREIGN_TARGETS = 200;

const folderTaskSchema = z.object({
  folderId: z.string().min(1),
  /** The shared drive holding the folder: listed with `corpora=drive`. */
  driveId: z.string().min(1).optional(),
  /** upsert: report every file below (crawl, folder moved in); delete: report them gone (moved out). */
  mode: z.enum(['upsert', 'delete']),
  /** Where the listing of this folder resumes. */
  pageToken: z.string().min(1).optional(),
  /** The folder's resource key, when it is reached by link. */
  resourceKey: z.string().min(1).optional(),
  /** allDrives answered an incomplete first page: this folder is listed in the user corpus (its page tokens belong to it). */
  corpora: z.literal('user').optional(),
});

const foreignTargetSchema = z.object({ id: z.string().min(1), resourceKey: z.string().min(1).optional() });

const changeLogSchema = z.object({
  /** Absent: the identity's own log (My Drive and what is shared with it). */
  driveId: z.string().min(1).optional(),
  /** The folder (or shared drive) at the top of this log's scope. */
  root: z.string().min(1),
  /** Saved start token during the crawl; next page token during changes. */
  token: z.string().min(1),
  /** The token is still the start token of the last full enumeration: no changes.list has accepted it yet. */
  fresh: z.literal(true).optional(),
});

const common = {
  v: z.literal(1),
  /** The scope (and non-default export formats) the cursor was taken for (see cursorKey); another means a new enumeration. */
  scope: z.string().min(1),
  logs: z.array(changeLogSchema).min(1).max(MAX_CHANGE_LOGS),
  pending: z.array(folderTaskSchema),
  current: folderTaskSchema.nullable(),
  targets: z.array(foreignTargetSchema).max(MAX_FOREIGN_TARGETS).optional(),
};

const crawlCursorSchema = z.object({ phase: z.literal('crawl'), ...common });
const changesCursorSchema = z.object({
  phase: z.literal('changes'),
  ...common,
  /** Index of the log being read in this pass; `logs.length` once every log is caught up. */
  next: z.number().int().min(0),
  /** When the last full enumeration of the scope completed (absent in cursors saved before it was kept). */
  enumeratedAt: z.iso.datetime().optional(),
});

/** The scope's root answered "not found": checked again next sync, then swept (see lost-scope.ts). */
const lostCursorSchema = z.object({
  v: z.literal(1),
  phase: z.literal('lost'),
  scope: z.string().min(1),
  /** Syncs that found the root still gone: 0 when just detected, 1 after the warning, 2 once swept. */
  checks: z.number().int().min(0).max(2),
});

const driveCursorSchema = z.discriminatedUnion('phase', [crawlCursorSchema, changesCursorSchema, lostCursorSchema]);

export type FolderTask = z.infer<typeof folderTaskSchema>;
export type ChangeLog = z.infer<typeof changeLogSchema>;
export type CrawlCursor = z.infer<typeof crawlCursorSchema>;
export type ChangesCursor = z.infer<typeof changesCursorSchema>;
export type LostCursor = z.infer<typeof lostCursorSchema>;
export type DriveCursor = z.infer<typeof driveCursorSchema>;

/** The typed cursor, or null when absent or unusable (the pipeline then enumerates everything). */
export function parseDriveCursor(raw: unknown): DriveCursor | null {
  const parsed = driveCursorSchema.safeParse(raw);
  if (!parsed.success) return null;
  const cursor = parsed.data;
  if (cursor.phase === 'changes' && cursor.next > cursor.logs.length) return null;
  return cursor;
}
