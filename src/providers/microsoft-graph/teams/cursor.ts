import { z } from 'zod';

/**
 * Where a Teams sync stands, saved after each durable page. Per channel: how
 * far its conversations are read (the listing of every thread on its first
 * sync, then its delta link, kept verbatim) and where its files folder is.
 * Per drive holding channel folders (the team library; a private or shared
 * channel's own site): one OneDrive cursor of that drive's delta. A pass walks
 * the channels in order (`position` is the channel in progress), then the
 * drives.
 */

const messagesState = z.discriminatedUnion('mode', [
  /** First sync of the channel: `GET …/messages` pages (every thread, any age). */
  z.object({ mode: z.literal('list'), link: z.url(), startedAt: z.iso.datetime() }),
  /**
   * Graph's delta nextLink during a round, its deltaLink between rounds.
   * `firstRound`: the filtered round that follows a listing has not reached its
   * deltaLink yet (a refusal then is a refusal of the round itself, not of a saved token).
   */
  z.object({ mode: z.literal('delta'), link: z.url(), firstRound: z.boolean().optional() }),
]);

const channelState = z.object({
  id: z.string().min(1),
  name: z.string(),
  membershipType: z.string(),
  messages: messagesState,
  /** This pass has read the channel's conversations up to a deltaLink. */
  messagesDone: z.boolean(),
  /** The files folder (its drive and folder ids); null before it was looked up. Its changes come from its drive's delta (`drives`). */
  files: z.object({ driveId: z.string().min(1), folderId: z.string().min(1) }).nullable(),
  /** This pass is done looking up the files folder (or the channel has none). */
  filesDone: z.boolean(),
  /** How many times the channel was listed again because Graph refused its saved delta or next link. */
  relists: z.number().int().min(0).optional(),
  /**
   * Graph refused the channel's filtered delta round itself: its threads are
   * listed in full (and swept) at most once per RELIST_EVERY instead, from the
   * listing that began at `listedAt`.
   */
  periodic: z.object({ listedAt: z.iso.datetime() }).optional(),
  /** The channel's messages failed in an earlier pass (recorded as a failure): cleared once they are read. */
  failed: z.boolean().optional(),
  /** Roots of threads that could not be read (each recorded as a failure): read again by id in the next pass. */
  failedThreads: z.array(z.string().min(1)).optional(),
  /** This pass's share of them, read before the channel's next page. */
  retryThreads: z.array(z.string().min(1)).optional(),
});

/** One drive's delta, shared by every channel whose folder it holds (the team library: all standard channels). */
const driveState = z.object({
  driveId: z.string().min(1),
  /** OneDrive's own cursor of the drive delta; null before its first page. */
  cursor: z.record(z.string(), z.unknown()).nullable(),
  /** This pass has read the drive up to its deltaLink. */
  done: z.boolean(),
});

const teamsCursor = z.object({
  v: z.literal(2),
  /** The config scope (teamsScopeKey) this cursor belongs to. */
  scope: z.string().min(1),
  teamName: z.string(),
  channels: z.array(channelState),
  drives: z.array(driveState),
  /** Index of the channel in progress; equal to channels.length once the channels are done (the drives follow). */
  position: z.number().int().min(0),
  /** A pass is under way (false: the next call starts one, refreshing the channel list). */
  inPass: z.boolean(),
  /** This pass lists everything (first sync, or after an expired cursor): its end proves absences. */
  enumerating: z.boolean(),
  /** Channels listed again in this pass (their delta was refused) or gone: the pass's end proves absences in their threads only. */
  relisting: z.array(z.string().min(1)).optional(),
  /** When the last full enumeration of the team ended (ISO time); the periodic one is due from it. */
  enumeratedAt: z.iso.datetime().optional(),
  /** Channels whose messages this pass may not read (403), and the last refusal Graph gave: every channel refused fails the sync. */
  denied: z.object({ count: z.number().int().min(0), graphSays: z.string() }).optional(),
});

/** A cursor saved before one delta per drive: each channel kept its own files cursor. Read only to be replaced. */
const perChannelFilesCursor = z.object({
  v: z.literal(1),
  scope: z.string().min(1),
  channels: z.array(z.object({ messages: z.object({ link: z.url() }), files: z.object({ driveId: z.string().min(1), folderId: z.string().min(1) }).nullable() })),
});

export type ChannelState = z.infer<typeof channelState>;
export type DriveState = z.infer<typeof driveState>;
export type PerChannelFilesCursor = z.infer<typeof perChannelFilesCursor>;
export type MessagesState = z.infer<typeof messagesState>;
export type TeamsCursor = z.infer<typeof teamsCursor>;

function sameOrigin(link: string, graphBaseUrl: string): boolean {
  const base = new URL(graphBaseUrl.replace(/\/*$/, '/'));
  const url = new URL(link);
  return url.origin === base.origin && url.pathname.startsWith(base.pathname);
}

/**
 * The typed cursor, or null for anything malformed or pointing outside this Graph deployment (never sent our token elsewhere).
 * A cursor of the per-channel files era is returned as such: the caller replaces it (listTeamChanges).
 */
export function parseTeamsCursor(raw: unknown, graphBaseUrl: string): TeamsCursor | PerChannelFilesCursor | null {
  const parsed = teamsCursor.safeParse(raw);
  const cursor = parsed.success ? parsed.data : perChannelFilesCursor.safeParse(raw).data;
  if (cursor === undefined) return null;
  return cursor.channels.every((c) => sameOrigin(c.messages.link, graphBaseUrl)) ? cursor : null;
}
