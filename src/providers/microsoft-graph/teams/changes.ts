import { CursorExpiredError, isCursorExpired, isNotFound, isPermanent, SourceProtocolError } from '../../../errors.js';
import type { ChangePage, SourceChange } from '../../types.js';
import type { TeamsSession } from './session.js';
import { type ChannelInfo, listChannels, readTeamName } from './channels.js';
import { readMessagePage } from './api.js';
import { teamsScopeKey } from './config.js';
import type { ChannelState, MessagesState, TeamsCursor } from './cursor.js';
import { channelFilesStep } from './files.js';
import { threadSourceId } from './mapping.js';
import { threadChanges } from './threads.js';

/**
 * One page of a team's changes. A pass walks the channels in order; for each,
 * its conversations, then its files folder.
 *
 * Conversations: the first sync of a channel lists every thread with
 * `GET …/messages` (delta only reaches back about eight months), noting when
 * the listing began; it then opens a delta round with
 * `$filter=lastModifiedDateTime gt <that time>`, which Graph documents as
 * returning every reply chain created or changed since, and follows that
 * round's deltaLink from then on. A plain delta round would not promise to
 * bring back a thread whose only change is a reply. An expired delta token
 * (410, or 400 `syncStateNotFound`) lists that channel again within the pass,
 * and the threads that listing did not see are swept at the pass's end (a
 * thread removed by a retention policy leaves no tombstone).
 *
 * Channels: at the start of each pass the channel list is read again. A new
 * channel is listed from scratch; a channel that disappeared ends the cursor,
 * so the whole team is enumerated again and the documents of the vanished
 * channel, no longer found, are deleted by the sweep.
 */

const LISTING_OVERLAP_MS = 5 * 60_000;
const MAX_STEPS_PER_PAGE = 25;
const MAX_PAGE_MS = 20_000;
export const UNREADABLE_CHANNEL_REASON = 'channel this app may not read';

function listLink(session: TeamsSession, channelId: string): string {
  return `${session.channelUrl(channelId)}/messages?$top=${session.config.pageSize}&$expand=replies`;
}

function freshMessages(session: TeamsSession, channelId: string): MessagesState {
  return { mode: 'list', link: listLink(session, channelId), startedAt: new Date().toISOString() };
}

function newChannelState(session: TeamsSession, channel: ChannelInfo): ChannelState {
  return { ...channel, messages: freshMessages(session, channel.id), messagesDone: false, files: null, filesDone: !session.config.includeFiles };
}

async function startEnumeration(session: TeamsSession): Promise<TeamsCursor> {
  const [teamName, channels] = [await readTeamName(session), await listChannels(session)];
  return {
    v: 1,
    scope: teamsScopeKey(session.config),
    teamName,
    channels: channels.map((c) => newChannelState(session, c)),
    position: 0,
    inPass: true,
    enumerating: true,
  };
}

/** A new pass: the channel list read again, every channel's work for this pass reopened. */
async function startPass(session: TeamsSession, cursor: TeamsCursor): Promise<TeamsCursor> {
  const current = await listChannels(session);
  const now = new Map(current.map((c) => [c.id, c]));
  const gone = cursor.channels.filter((c) => !now.has(c.id));
  if (gone.length > 0) {
    throw new CursorExpiredError(`${gone.length} channel(s) left the team or the sync scope: enumerating the team again so their documents are deleted`, 'channelsGone');
  }
  const known = new Map(cursor.channels.map((c) => [c.id, c]));
  const channels = current.map((c): ChannelState => {
    const state = known.get(c.id);
    if (!state) return newChannelState(session, c);
    return { ...state, name: c.name, membershipType: c.membershipType, messagesDone: false, filesDone: !session.config.includeFiles };
  });
  return { ...cursor, teamName: await readTeamName(session), channels, position: 0, inPass: true, enumerating: false };
}

interface Step {
  changes: SourceChange[];
  state: ChannelState;
  /** The channel's delta was refused: its threads are listed again, and what that listing misses is swept at the pass's end. */
  relist?: boolean;
}

async function messagesStep(session: TeamsSession, teamName: string, state: ChannelState): Promise<Step> {
  const channel: ChannelInfo = { id: state.id, name: state.name, membershipType: state.membershipType };
  let data: unknown;
  try {
    data = await session.json(state.messages.link, { channelId: state.id, messages: true });
  } catch (e) {
    if (isCursorExpired(e)) {
      session.logger.warn({ channelId: state.id, code: e.code }, 'the channel\'s delta token expired; listing its threads again');
      return { changes: [], state: { ...state, messages: freshMessages(session, state.id) }, relist: true };
    }
    if (isPermanent(e) && e.code === 'accessDenied') {
      session.logger.warn({ channelId: state.id }, 'this app may not read the channel\'s messages; skipping it');
      return { changes: [{ kind: 'skip', sourceId: `teams-channel:${state.id}`, name: state.name, reason: UNREADABLE_CHANNEL_REASON }], state: { ...state, messagesDone: true, filesDone: true } };
    }
    if (isNotFound(e)) {
      throw new CursorExpiredError(`channel "${state.name}" no longer exists: enumerating the team again`, 'channelGone', { cause: e });
    }
    throw e;
  }
  const page = readMessagePage(data, state.messages.mode === 'list' ? 'GET messages' : 'GET messages/delta');
  const channelPage = { session, teamName, channel, shared: new Map<string, SourceChange>() };
  const changes: SourceChange[] = [];
  for (const root of page.value) changes.push(...(await threadChanges(channelPage, root)));

  const next = page['@odata.nextLink'];
  const deltaLink = page['@odata.deltaLink'];
  let messages: MessagesState;
  let done = false;
  if (state.messages.mode === 'list') {
    if (next !== undefined) messages = { ...state.messages, link: next };
    else {
      // Listing done: changes made while it ran come from a delta round filtered from its start.
      const since = new Date(Date.parse(state.messages.startedAt) - LISTING_OVERLAP_MS).toISOString();
      const link = `${session.channelUrl(state.id)}/messages/delta?$filter=${encodeURIComponent(`lastModifiedDateTime gt ${since}`)}&$top=${session.config.pageSize}&$expand=replies`;
      messages = { mode: 'delta', link };
    }
  } else {
    const link = deltaLink ?? next;
    if (link === undefined) throw new SourceProtocolError('GET messages/delta answered a page with neither @odata.nextLink nor @odata.deltaLink');
    messages = { mode: 'delta', link };
    done = deltaLink !== undefined;
  }
  return { changes, state: { ...state, messages, messagesDone: done } };
}

/** Moves past every channel this pass is done with. */
function advance(cursor: TeamsCursor): TeamsCursor {
  let position = cursor.position;
  while (position < cursor.channels.length) {
    const c = cursor.channels[position];
    if (c && c.messagesDone && c.filesDone) position++;
    else break;
  }
  return { ...cursor, position };
}

export async function listTeamChanges(session: TeamsSession, cursor: TeamsCursor | null): Promise<ChangePage<TeamsCursor>> {
  if (cursor && cursor.scope !== teamsScopeKey(session.config)) {
    throw new CursorExpiredError('the connector now names another team or channel set: enumerating it afresh', 'scopeChanged');
  }
  let from = cursor === null ? await startEnumeration(session) : cursor.inPass ? cursor : await startPass(session, cursor);
  from = advance(from);

  // Steps that find little (a quiet channel's delta, an unchanged files folder) share one page,
  // so a resync with nothing to do is a handful of activities, not two per channel.
  const changes: SourceChange[] = [];
  const started = Date.now();
  for (let steps = 0; steps < MAX_STEPS_PER_PAGE && changes.length < session.config.pageSize && Date.now() - started < MAX_PAGE_MS; steps++) {
    const current = from.channels[from.position];
    if (!current) break;
    const step: Step = !current.messagesDone ? await messagesStep(session, from.teamName, current) : await channelFilesStep(session, current);
    changes.push(...step.changes);
    const position = from.position;
    const relisting = step.relist && !from.enumerating ? { relisting: [...new Set([...(from.relisting ?? []), current.id])] } : {};
    from = advance({ ...from, ...relisting, channels: from.channels.map((c, i) => (i === position ? step.state : c)) });
  }
  return pageOf(session, from, changes);
}

/**
 * The page's enumeration flags. A pass that lists channels again is an
 * enumeration of those channels only: everything seen in it is marked, and at
 * its end only their threads (and inline images, whose ids start with the
 * thread's) that were not seen are swept.
 */
function pageOf(session: TeamsSession, from: TeamsCursor, changes: SourceChange[]): ChangePage<TeamsCursor> {
  const passOver = from.position >= from.channels.length;
  const relisting = from.relisting ?? [];
  const enumerating = from.enumerating || relisting.length > 0;
  const { relisting: _done, ...rest } = from;
  const next: TeamsCursor = passOver ? { ...rest, position: 0, inPass: false, enumerating: false } : from;
  return {
    changes,
    cursor: next,
    hasMore: !passOver,
    fullEnumeration: enumerating,
    enumerationComplete: enumerating && passOver,
    ...(!from.enumerating && relisting.length > 0 ? { sweepOnly: relisting.map((channelId) => threadSourceId(session.config.teamId, channelId, '')) } : {}),
  };
}
