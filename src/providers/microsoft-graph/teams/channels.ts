import { isNotFound, PermanentSourceError } from '../../../errors.js';
import type { TeamsSession } from './session.js';
import { type GraphChannel, readChannelList } from './api.js';

/** The team and the channels a connector syncs. */

export interface ChannelInfo {
  id: string;
  name: string;
  /** standard, private or shared (unknownFutureValue only if Graph ignored our Prefer header). */
  membershipType: string;
}

async function lookup<T>(run: () => Promise<T>, notFound: string): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (isNotFound(e)) throw new PermanentSourceError(notFound, 'invalidConfig', 'sync', { cause: e });
    throw e;
  }
}

export async function readTeamName(session: TeamsSession): Promise<string> {
  const url = `${session.graph.baseUrl}/teams/${encodeURIComponent(session.config.teamId)}?$select=id,displayName`;
  const team = await lookup(
    () => session.json<{ displayName?: unknown }>(url, {}),
    'connector config "team_id" names no team Microsoft Graph knows (or one this app may not read)',
  );
  return typeof team.displayName === 'string' ? team.displayName : session.config.teamId;
}

/** The channels in scope now: the configured ones, or every standard channel (private and shared ones too when the config asks). */
export async function listChannels(session: TeamsSession): Promise<ChannelInfo[]> {
  const url = `${session.graph.baseUrl}/teams/${encodeURIComponent(session.config.teamId)}/channels?$select=id,displayName,membershipType`;
  const all: ChannelInfo[] = [];
  // The reference shows no paging for channels, but a team may have hundreds: a nextLink, if any, is followed.
  for (let next: string | undefined = url; next !== undefined; ) {
    const link: string = next;
    const page = readChannelList(await lookup(() => session.json(link, {}), 'connector config "team_id" names no team Microsoft Graph knows (or one this app may not read)'), 'GET channels');
    all.push(...page.value.map((c: GraphChannel): ChannelInfo => ({ id: c.id, name: c.displayName ?? c.id, membershipType: c.membershipType ?? 'standard' })));
    next = page['@odata.nextLink'];
  }
  const wanted = session.config.channelIds;
  // Private and shared channels are for their members: only named or asked-for ones are synced.
  if (wanted === null) return session.config.includePrivateChannels ? all : all.filter((c) => c.membershipType === 'standard');
  const byId = new Map(all.map((c) => [c.id, c]));
  const missing = wanted.filter((id) => !byId.has(id));
  if (missing.length > 0 && missing.length === wanted.length) {
    throw new PermanentSourceError('connector config "channel_ids" names no channel of the team (or none this app may read)', 'invalidConfig', 'sync');
  }
  return wanted.flatMap((id) => byId.get(id) ?? []);
}

/** The drive and folder of a channel's files, and the folder's parent when Graph says (null when the channel has none yet). */
export async function channelFilesFolder(session: TeamsSession, channelId: string): Promise<{ driveId: string; folderId: string; parentId: string | null } | null> {
  try {
    const data = await session.json<{ id?: unknown; parentReference?: { driveId?: unknown; id?: unknown } }>(`${session.channelUrl(channelId)}/filesFolder`, { channelId });
    const driveId = data.parentReference?.driveId;
    const parentId = data.parentReference?.id;
    if (typeof data.id !== 'string' || typeof driveId !== 'string') return null;
    return { driveId, folderId: data.id, parentId: typeof parentId === 'string' ? parentId : null };
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}
