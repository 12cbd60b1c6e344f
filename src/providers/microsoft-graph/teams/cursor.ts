import { z } from 'zod';

/**
 * Where a Teams sync stands, saved after each durable page. Per channel: how
 * far its conversations are read (the listing of every thread on its first
 * sync, then its delta link, kept verbatim) and the OneDrive cursor of its
 * files folder. A pass walks the channels in order; `position` is the channel
 * in progress.
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
  /** The files folder (drive and folder ids) and its drive cursor (OneDrive's own); null before it was looked up. */
  files: z
    .object({ driveId: z.string().min(1), folderId: z.string().min(1), cursor: z.record(z.string(), z.unknown()).nullable() })
    .nullable(),
  /** This pass is done with the files folder (or the channel has none). */
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
});

const teamsCursor = z.object({
  v: z.literal(1),
  /** The config scope (teamsScopeKey) this cursor belongs to. */
  scope: z.string().min(1),
  teamName: z.string(),
  channels: z.array(channelState),
  /** Index of the channel in progress; equal to channels.length when the pass is over. */
  position: z.number().int().min(0),
  /** A pass is under way (false: the next call starts one, refreshing the channel list). */
  inPass: z.boolean(),
  /** This pass lists everything (first sync, or after an expired cursor): its end proves absences. */
  enumerating: z.boolean(),
  /** Channels listed again in this pass (their delta was refused): the pass's end proves absences in them only. */
  relisting: z.array(z.string().min(1)).optional(),
  /** Channels whose messages this pass may not read (403), and the last refusal Graph gave: every channel refused fails the sync. */
  denied: z.object({ count: z.number().int().min(0), graphSays: z.string() }).optional(),
});

export type ChannelState = z.infer<typeof channelState>;
export type MessagesState = z.infer<typeof messagesState>;
export type TeamsCursor = z.infer<typeof teamsCursor>;

function sameOrigin(link: string, graphBaseUrl: string): boolean {
  const base = new URL(graphBaseUrl.replace(/\/*$/, '/'));
  const url = new URL(link);
  return url.origin === base.origin && url.pathname.startsWith(base.pathname);
}

/** The typed cursor, or null for anything malformed or pointing outside this Graph deployment (never sent our token elsewhere). */
export function parseTeamsCursor(raw: unknown, graphBaseUrl: string): TeamsCursor | null {
  const parsed = teamsCursor.safeParse(raw);
  if (!parsed.success) return null;
  return parsed.data.channels.every((c) => sameOrigin(c.messages.link, graphBaseUrl)) ? parsed.data : null;
}
