import { z } from 'zod';

/**
 * Where a OneDrive sync stands, saved after each durable page. Graph's links
 * are kept verbatim: they already carry the token and the query options.
 */

/** A queued folder as cursors saved before the queue moved to the database carried it (read once, then moved there). */
const savedRelistTask = z.object({
  folderId: z.string().min(1),
  parentId: z.string().min(1).nullable(),
  inScope: z.boolean(),
  /** The next `/children` page of this folder, once its first page is done. */
  link: z.url().optional(),
});

/**
 * Where the listing stands in its relist queue, whose tasks are rows of `connector_sync.relist_tasks`
 * (ItemParents.relists): the cursor and the workflow history carry this much, however large the
 * moved tree.
 */
const relistPosition = z.object({
  queue: z.string().min(1),
  /** Position of the task to list next (tasks before it are done). */
  next: z.number().int().min(0),
  /** Where the next queued task goes. */
  end: z.number().int().min(0),
  /** The next `/children` page of the task at `next`, once its first page is done. */
  link: z.url().optional(),
});

const oneDriveCursor = z.object({
  v: z.literal(1),
  driveId: z.string().min(1),
  /** The config scope (scopeKey) this cursor belongs to. */
  scope: z.string().min(1),
  /** Root of the folder subtree being synced; null for the whole drive. */
  scopeRootId: z.string().min(1).nullable(),
  /** Graph's `@odata.nextLink` during a walk, its `@odata.deltaLink` once caught up. */
  link: z.url(),
  /** `link` is a deltaLink: nothing more until something changes. */
  caughtUp: z.boolean(),
  /** The walk began without a token, so its pages make a full enumeration until the deltaLink arrives. */
  enumerating: z.boolean(),
  /** When the last full enumeration completed (ISO time); the periodic one is due from it. */
  enumeratedAt: z.iso.datetime().optional(),
  /**
   * Folders that crossed the scope boundary and whose subtree must be listed
   * (delta does not re-emit the children of a moved folder), served before the
   * next delta page: the queue's position (its tasks are in the database), or, in
   * a cursor saved by an earlier version, the tasks themselves.
   */
  relist: z.union([relistPosition, z.array(savedRelistTask)]).optional(),
});

/** Several document libraries of a site, synced one after the other, each with its drive cursor. */
const siteCursor = z.object({
  v: z.literal(1),
  /** The config scope (scopeKey) this cursor belongs to. */
  scope: z.string().min(1),
  libraries: z.array(z.object({ driveId: z.string().min(1), name: z.string(), cursor: oneDriveCursor.nullable() })).min(1),
  /** The library whose pages come next; `libraries.length` once this pass is over. */
  at: z.number().int().min(0),
  /** The pass began without a cursor: its pages make a full enumeration of the site. */
  enumerating: z.boolean(),
  /** When the last full enumeration of the site completed (ISO time). */
  enumeratedAt: z.iso.datetime().optional(),
});

export type SavedRelistTask = z.infer<typeof savedRelistTask>;
export type RelistPosition = z.infer<typeof relistPosition>;
export type OneDriveCursor = z.infer<typeof oneDriveCursor>;
export type SiteCursor = z.infer<typeof siteCursor>;

/** True when `link` points into this Graph deployment and names this drive: a cursor is never sent elsewhere with our token. */
function belongsTo(link: string, graphBaseUrl: string, driveId: string): boolean {
  const base = new URL(graphBaseUrl.replace(/\/*$/, '/'));
  const url = new URL(link);
  if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return false;
  return link.includes(driveId) || link.includes(encodeURIComponent(driveId));
}

function linksBelong(cursor: OneDriveCursor, graphBaseUrl: string): boolean {
  const { relist } = cursor;
  const queued = relist === undefined ? [] : Array.isArray(relist) ? relist : [relist];
  const links = [cursor.link, ...queued.flatMap((task) => (task.link ? [task.link] : []))];
  return links.every((link) => belongsTo(link, graphBaseUrl, cursor.driveId));
}

/** The typed cursor, or null for anything malformed, foreign or made for another drive: the caller re-enumerates. */
export function parseOneDriveCursor(raw: unknown, graphBaseUrl: string): OneDriveCursor | null {
  const parsed = oneDriveCursor.safeParse(raw);
  if (!parsed.success) return null;
  return linksBelong(parsed.data, graphBaseUrl) ? parsed.data : null;
}

/** A site's cursor, with the same checks on every library's links; null otherwise. */
export function parseSiteCursor(raw: unknown, graphBaseUrl: string): SiteCursor | null {
  const parsed = siteCursor.safeParse(raw);
  if (!parsed.success) return null;
  const { libraries, at } = parsed.data;
  const sound = at <= libraries.length && libraries.every((l) => l.cursor === null || (l.cursor.driveId === l.driveId && linksBelong(l.cursor, graphBaseUrl)));
  return sound ? parsed.data : null;
}
