import {
  CursorExpiredError,
  isCursorExpired,
  isNotFound,
  isPermanent,
  isUnauthorized,
  PermanentSourceError,
  SourceProtocolError,
} from '../../../errors.js';
import { checkEnumerationDue } from '../../full-enumeration.js';
import type { ChangePage, SourceChange } from '../../types.js';
import type { TeamsSession } from './session.js';
import { type ChannelInfo, listChannels, readTeamName } from './channels.js';
import { readMessagePage } from './api.js';
import { teamsScopeKey } from './config.js';
import type { ChannelState, MessagesState, PerChannelFilesCursor, TeamsCursor } from './cursor.js';
import { channelFilesStep, driveFilesStep, type FilesStep, goneChannelFiles, perChannelItemScopes } from './files.js';
import { threadSourceId } from './mapping.js';
import { type ChannelPage, pageChanges, rootsChanges } from './threads.js';

/**
 * One page of a team's changes. A pass walks the channels in order; for each,
 * its conversations, then where its files folder is; then each drive's delta.
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
 * Files: each channel's files folder is looked up once; after the channels,
 * each drive holding channel folders (the team library, a private or shared
 * channel's own site) is read with one delta for all its channels (files.ts).
 *
 * Channels: at the start of each pass the channel list is read again. A new
 * channel is listed from scratch; a channel that disappeared (deleted, or out
 * of the sync scope) has its own documents deleted and nothing else is read
 * again: its files found below its folder among the drive's recorded items,
 * its threads by a sweep of its thread ids at the pass's end.
 *
 * Every `full_enumeration_days` (a week by default) the team is enumerated
 * again and swept: the safety net for a drive tombstone that never came or a
 * file moved out of every channel folder. Unchanged documents keep their
 * signatures, so it downloads and publishes nothing for them.
 */

const LISTING_OVERLAP_MS = 5 * 60_000;
const MAX_STEPS_PER_PAGE = 25;
const MAX_PAGE_MS = 20_000;
export const UNREADABLE_CHANNEL_REASON = 'channel this app may not read';
/**
 * Unreadable threads kept per channel to read again by id. Past it, the rest
 * come back with the periodic full enumeration, which lists every thread.
 */
export const MAX_FAILED_THREADS = 100;

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
    v: 2,
    scope: teamsScopeKey(session.config),
    teamName,
    channels: channels.map((c) => newChannelState(session, c)),
    drives: [],
    position: 0,
    inPass: true,
    enumerating: true,
  };
}

/** A channel that left the team or the sync scope: its files, its failure record, and (by the pass's sweep) its threads go. */
async function channelGone(session: TeamsSession, cursor: TeamsCursor, gone: ChannelState): Promise<SourceChange[]> {
  session.logger.info({ channelId: gone.id, name: gone.name }, 'a channel left the team or the sync scope: deleting its documents');
  const files = await goneChannelFiles(session, cursor, gone);
  return [...files, ...(gone.failed ? [{ kind: 'delete' as const, sourceId: channelMarker(gone) }] : [])];
}

/** A new pass: the channel list read again, every channel's work for this pass reopened. */
async function startPass(session: TeamsSession, cursor: TeamsCursor): Promise<{ cursor: TeamsCursor; changes: SourceChange[] }> {
  const current = await listChannels(session);
  const now = new Map(current.map((c) => [c.id, c]));
  const gone = cursor.channels.filter((c) => !now.has(c.id));
  const changes: SourceChange[] = [];
  for (const channel of gone) changes.push(...(await channelGone(session, cursor, channel)));
  const known = new Map(cursor.channels.map((c) => [c.id, c]));
  const relisting: string[] = gone.map((c) => c.id);
  const channels = current.map((c): ChannelState => {
    const state = known.get(c.id);
    if (!state) return newChannelState(session, c);
    const { failedThreads: _failed, ...kept } = state;
    const retry = keptThreads(session, state, state.retryThreads, state.failedThreads);
    const reopened: ChannelState = { ...kept, name: c.name, membershipType: c.membershipType, messagesDone: false, filesDone: !session.config.includeFiles, retryThreads: retry };
    if (!state.periodic) return reopened;
    // A channel without a usable delta: listed in full (and swept) once it is due, else left for this pass.
    if (Date.now() - Date.parse(state.periodic.listedAt) < RELIST_EVERY_MS) return { ...reopened, messagesDone: true };
    relisting.push(c.id);
    return { ...reopened, messages: freshMessages(session, c.id) };
  });
  const { denied: _lastPass, ...rest } = cursor;
  // A drive is read while a channel's folder is in it; each one's delta reopened for this pass.
  const drives = cursor.drives.filter((d) => channels.some((c) => c.files?.driveId === d.driveId)).map((d) => ({ ...d, done: false }));
  const next: TeamsCursor = { ...rest, teamName: await readTeamName(session), channels, drives, position: 0, inPass: true, enumerating: false, ...(relisting.length > 0 ? { relisting } : {}) };
  return { cursor: next, changes };
}

interface Step {
  changes: SourceChange[];
  state: ChannelState;
  /** The channel's delta was refused: its threads are listed again, and what that listing misses is swept at the pass's end. */
  relist?: boolean;
  /** Graph refused this app the channel (403); Graph's words. */
  denied?: string;
}

/** How often a channel whose filtered delta Graph refuses is listed again in full (Microsoft asks pollers for once a day). */
export const RELIST_EVERY_MS = 24 * 3600_000;

const channelMarker = (state: ChannelState) => `teams-channel:${state.id}`;

/** The channel's messages could not be read this pass: recorded as a failure with the reason, retried next pass; the channels after it go on. */
function channelFailure(session: TeamsSession, state: ChannelState, reason: string, code: string, e: unknown): Step {
  session.logger.warn({ channelId: state.id, code, error: e instanceof Error ? e.message : String(e) }, reason);
  return { changes: [{ kind: 'fail', sourceId: channelMarker(state), name: state.name, reason, code }], state: { ...state, messagesDone: true, failed: true } };
}

/** What a refused channel-messages request means for the channel (by verdict, never by status). */
function refusal(session: TeamsSession, state: ChannelState, e: unknown): Step {
  if (isUnauthorized(e)) throw e;
  if (isCursorExpired(e)) {
    if (state.messages.mode === 'delta' && state.messages.firstRound) {
      // The round after a listing is refused before its first deltaLink: the `$filter` itself (reported for app-only
      // sign-in), or an empty channel's "Parameter 'DeltaToken' not supported". List in full, at most once a day, instead.
      session.logger.warn({ channelId: state.id, code: e.code }, 'Graph refuses the filtered delta for this channel; it will be listed in full once a day instead');
      return { changes: [], state: { ...state, messages: freshMessages(session, state.id), periodic: { listedAt: new Date().toISOString() }, messagesDone: true } };
    }
    session.logger.warn({ channelId: state.id, code: e.code, relists: (state.relists ?? 0) + 1 }, 'Graph refused the channel\'s saved delta link; listing its threads again');
    return { changes: [], state: { ...state, messages: freshMessages(session, state.id), relists: (state.relists ?? 0) + 1 }, relist: true };
  }
  if (isNotFound(e)) {
    throw new CursorExpiredError(`channel "${state.name}" no longer exists: enumerating the team again`, 'channelGone', { cause: e });
  }
  if (isPermanent(e) && e.code === 'accessDenied') {
    const step = channelFailure(session, state, `${UNREADABLE_CHANNEL_REASON}: ${e.message}`, 'accessDenied', e);
    return { ...step, state: { ...step.state, filesDone: true }, denied: e.message };
  }
  if (isPermanent(e) || e instanceof SourceProtocolError) {
    return channelFailure(session, state, `the channel's messages could not be read this time: ${e.message}`, isPermanent(e) ? e.code : 'protocolError', e);
  }
  throw e;
}

/**
 * The listing is over: a delta round filtered from its start. A channel listed
 * daily tries it again too (an empty channel's refusal may not outlive its
 * first post); refused again, it stays on daily listings.
 */
function afterListing(session: TeamsSession, state: ChannelState, startedAt: string): Pick<ChannelState, 'messages' | 'messagesDone'> {
  // Changes made while it ran come from a delta round filtered from its start.
  const since = new Date(Date.parse(startedAt) - LISTING_OVERLAP_MS).toISOString();
  const link = `${session.channelUrl(state.id)}/messages/delta?$filter=${encodeURIComponent(`lastModifiedDateTime gt ${since}`)}&$top=${session.config.pageSize}&$expand=replies`;
  return { messages: { mode: 'delta', link, firstRound: true }, messagesDone: false };
}

/** Root ids to keep for another read, at most MAX_FAILED_THREADS (the rest wait for the periodic full enumeration). */
function keptThreads(session: TeamsSession, state: ChannelState, ...lists: Array<readonly string[] | undefined>): string[] | undefined {
  const all = [...new Set(lists.flatMap((l) => l ?? []))];
  if (all.length > MAX_FAILED_THREADS) {
    session.logger.warn({ channelId: state.id, unreadable: all.length }, `more than ${MAX_FAILED_THREADS} threads of the channel could not be read: the rest are read again by the next full enumeration`);
  }
  return all.length > 0 ? all.slice(0, MAX_FAILED_THREADS) : undefined;
}

/** Threads an earlier pass could not read, read again by id before the channel's next page; those failing again wait for the next pass. */
async function retryStep(session: TeamsSession, channelPage: ChannelPage, state: ChannelState, rootIds: readonly string[]): Promise<Step> {
  let read;
  try {
    read = await rootsChanges(channelPage, rootIds);
  } catch (e) {
    return refusal(session, state, e);
  }
  return { changes: read.changes, state: { ...state, retryThreads: undefined, failedThreads: keptThreads(session, state, state.failedThreads, read.failedRoots) } };
}

async function messagesStep(session: TeamsSession, teamName: string, state: ChannelState): Promise<Step> {
  const channel: ChannelInfo = { id: state.id, name: state.name, membershipType: state.membershipType };
  const channelPage: ChannelPage = { session, teamName, channel, shared: new Map<string, SourceChange>() };
  if (state.retryThreads) return retryStep(session, channelPage, state, state.retryThreads);
  const changes: SourceChange[] = [];
  let page;
  let failedRoots: string[];
  try {
    const data = await session.json(state.messages.link, { channelId: state.id, messages: true });
    page = readMessagePage(data, state.messages.mode === 'list' ? 'GET messages' : 'GET messages/delta');
    const read = await pageChanges(channelPage, page.value);
    changes.push(...read.changes);
    failedRoots = read.failedRoots;
  } catch (e) {
    return refusal(session, state, e);
  }
  // Read again after a recorded failure: the record goes.
  if (state.failed) changes.push({ kind: 'delete', sourceId: channelMarker(state) });
  const recovered: ChannelState = { ...state, failed: undefined, failedThreads: keptThreads(session, state, state.failedThreads, failedRoots) };

  const next = page['@odata.nextLink'];
  const deltaLink = page['@odata.deltaLink'];
  if (state.messages.mode === 'list') {
    if (next !== undefined) return { changes, state: { ...recovered, messages: { ...state.messages, link: next } } };
    return { changes, state: { ...recovered, ...afterListing(session, state, state.messages.startedAt) } };
  }
  const link = deltaLink ?? next;
  if (link === undefined) return refusal(session, state, new SourceProtocolError('GET messages/delta answered a page with neither @odata.nextLink nor @odata.deltaLink'));
  const firstRound = state.messages.firstRound === true && deltaLink === undefined;
  // A round that reaches its deltaLink: the channel has a working delta again.
  const periodic = deltaLink !== undefined ? { periodic: undefined } : {};
  return { changes, state: { ...recovered, ...periodic, messages: { mode: 'delta', link, ...(firstRound ? { firstRound } : {}) }, messagesDone: deltaLink !== undefined } };
}

const passIsOver = (cursor: TeamsCursor) => cursor.position >= cursor.channels.length && cursor.drives.every((d) => d.done);

/** The next step of the pass: a channel's messages or files folder, then each drive's delta. */
async function nextStep(session: TeamsSession, from: TeamsCursor): Promise<(Step & { kind: 'channel' }) | (FilesStep & { kind: 'files' }) | null> {
  const current = from.channels[from.position];
  if (current) {
    if (!current.messagesDone) return { kind: 'channel', ...(await messagesStep(session, from.teamName, current)) };
    return { kind: 'files', ...(await channelFilesStep(session, from, current)) };
  }
  const drive = from.drives.find((d) => !d.done);
  return drive ? { kind: 'files', ...(await driveFilesStep(session, from, drive)) } : null;
}

/** The periodic full enumeration (every `full_enumeration_days`), checked where a pass would start. */
function checkTeamEnumerationDue(session: TeamsSession, cursor: TeamsCursor, now: number): void {
  if (cursor.inPass) return;
  checkEnumerationDue(cursor.enumeratedAt, session.config.fullEnumerationDays, now);
}

/**
 * A cursor from before one delta per drive (each channel walked the team
 * library with its own files cursor) cannot be turned into one library cursor
 * without losing or repeating a change: the team is enumerated once instead,
 * whose unchanged documents keep their signatures (nothing downloaded again)
 * and whose sweep deletes what went meanwhile. The old files scopes' item
 * records are dropped.
 */
async function replacePerChannelCursor(session: TeamsSession, cursor: PerChannelFilesCursor): Promise<never> {
  for (const scope of perChannelItemScopes(cursor.channels)) await session.items.clear(scope);
  throw new CursorExpiredError('the saved cursor kept one files cursor per channel; the team library is now read once for all channels: enumerating the team once', 'cursorUpgraded');
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

export async function listTeamChanges(session: TeamsSession, cursor: TeamsCursor | PerChannelFilesCursor | null): Promise<ChangePage<TeamsCursor>> {
  if (cursor && cursor.v === 1) return replacePerChannelCursor(session, cursor);
  if (cursor && cursor.scope !== teamsScopeKey(session.config)) {
    throw new CursorExpiredError('the connector now names another team or channel set: enumerating it afresh', 'scopeChanged');
  }
  if (cursor) checkTeamEnumerationDue(session, cursor, Date.now());
  // Steps that find little (a quiet channel's delta, an unchanged drive) share one page,
  // so a resync with nothing to do is a handful of activities, not two per channel.
  const changes: SourceChange[] = [];
  let from: TeamsCursor;
  if (cursor === null) from = await startEnumeration(session);
  else if (cursor.inPass) from = cursor;
  else {
    const started = await startPass(session, cursor);
    from = started.cursor;
    changes.push(...started.changes);
  }
  from = advance(from);

  let relisted = 0;
  const started = Date.now();
  for (let steps = 0; steps < MAX_STEPS_PER_PAGE && changes.length < session.config.pageSize && Date.now() - started < MAX_PAGE_MS; steps++) {
    const step = await nextStep(session, from);
    if (!step) break;
    changes.push(...step.changes);
    if (step.kind === 'files') {
      from = advance(step.cursor);
      continue;
    }
    const current = step.state;
    if (step.relist) relisted++;
    const relisting = step.relist && !from.enumerating ? { relisting: [...new Set([...(from.relisting ?? []), current.id])] } : {};
    const denied = step.denied !== undefined ? { denied: { count: (from.denied?.count ?? 0) + 1, graphSays: step.denied } } : {};
    from = advance({ ...from, ...relisting, ...denied, channels: from.channels.map((c) => (c.id === current.id ? current : c)) });
  }
  if (from.position >= from.channels.length) assertSomeChannelReadable(from);
  return { ...pageOf(session, from, changes), ...(relisted > 0 ? { relisted } : {}) };
}

/**
 * Every channel refused (403) is not a sync of nothing: it is an app without
 * the right to read Teams messages, which only an admin can fix. The sync
 * fails with the sentence that says how.
 */
function assertSomeChannelReadable(cursor: TeamsCursor): void {
  const denied = cursor.denied;
  if (!denied || cursor.channels.length === 0 || denied.count < cursor.channels.length) return;
  const team = `"${cursor.teamName}"`;
  const sentence = /protected api/i.test(denied.graphSays)
    ? `Microsoft Graph refuses this app the messages of every channel of team ${team}: reading channel messages with app-only sign-in needs Microsoft's protected-API approval for the app (request it at https://aka.ms/teamsgraph/requestaccess), then sync again.`
    : `Microsoft Graph refuses this app the messages of every channel of team ${team}: an admin must grant the app the ChannelMessage.Read.All application permission (with admin consent) or make it a member of the team, then sync again.`;
  throw new PermanentSourceError(`${sentence} Graph said: ${denied.graphSays}`, 'teamsAccessDenied', 'sync');
}

/**
 * The page's enumeration flags. A pass that lists channels again is an
 * enumeration of those channels only: everything seen in it is marked, and at
 * its end only their threads (and inline images, whose ids start with the
 * thread's) that were not seen are swept.
 */
function pageOf(session: TeamsSession, from: TeamsCursor, changes: SourceChange[]): ChangePage<TeamsCursor> {
  const passOver = passIsOver(from);
  const relisting = from.relisting ?? [];
  const enumerating = from.enumerating || relisting.length > 0;
  const { relisting: _done, ...rest } = from;
  // A cursor without the time of its last full enumeration starts its period now.
  const enumeratedAt = from.enumerating || rest.enumeratedAt === undefined ? new Date().toISOString() : rest.enumeratedAt;
  const next: TeamsCursor = passOver ? { ...rest, position: 0, inPass: false, enumerating: false, enumeratedAt } : from;
  return {
    changes,
    cursor: next,
    hasMore: !passOver,
    fullEnumeration: enumerating,
    enumerationComplete: enumerating && passOver,
    ...(!from.enumerating && relisting.length > 0 ? { sweepOnly: relisting.map((channelId) => threadSourceId(session.config.teamId, channelId, '')) } : {}),
  };
}
