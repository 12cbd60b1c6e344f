import { Readable } from 'node:stream';
import { ItemGoneError, itemGoneIfNotFound, PermanentSourceError } from '../../../errors.js';
import type { ItemContent, SourceItem } from '../../types.js';
import { openDriveItemContent } from '../onedrive/content.js';
import type { TeamsSession } from './session.js';
import { isDeleted, readChatMessage } from './api.js';
import { REPLIES_HEADING, renderThread } from './render.js';
import { repliesOf, snippetReader } from './threads.js';

/**
 * The bytes of a Teams document. A thread is rendered again from Graph as it
 * streams out (the root, then its replies page by page), so a thread of any
 * length costs one page of memory. Files go through the OneDrive source's
 * download; inline images through their `$value`.
 */

function text(fetch: Record<string, unknown>, key: string, item: SourceItem): string {
  const value = fetch[key];
  if (typeof value !== 'string' || value === '') {
    throw new PermanentSourceError(`item ${item.sourceId} carries no ${key} to fetch it by`, 'badFetchRef', 'item');
  }
  return value;
}

const goneMessage = (item: SourceItem): string => `${item.name} no longer exists in Teams`;

async function openThread(session: TeamsSession, item: SourceItem): Promise<ItemContent> {
  const channelId = text(item.fetch, 'channelId', item);
  const rootId = text(item.fetch, 'rootId', item);
  let root;
  try {
    const data = await session.json(`${session.channelUrl(channelId)}/messages/${encodeURIComponent(rootId)}`, { channelId, messages: true });
    root = readChatMessage(data, 'GET message');
  } catch (e) {
    throw itemGoneIfNotFound(e, goneMessage(item));
  }
  const heading = {
    teamName: text(item.fetch, 'teamName', item),
    channelName: typeof item.fetch.channelName === 'string' ? item.fetch.channelName : channelId,
    membershipType: typeof item.fetch.membershipType === 'string' ? item.fetch.membershipType : 'standard',
  };
  const pieces = renderThread(heading, root, repliesOf(session, channelId, root), undefined, snippetReader(session, channelId));
  const notFoundIsGone = async function* (source: AsyncIterable<string>) {
    try {
      for await (const piece of source) yield Buffer.from(piece);
    } catch (e) {
      throw itemGoneIfNotFound(e, goneMessage(item));
    }
  };
  if (isDeleted(root)) {
    // A deleted root keeps its document while a reply is readable: read it whole first, a thread with none left is gone.
    const all: string[] = [];
    for await (const piece of notFoundIsGone(pieces)) all.push(piece.toString());
    if (!all.includes(REPLIES_HEADING)) throw new ItemGoneError(goneMessage(item));
    return { body: Readable.from(all.map((piece) => Buffer.from(piece))), contentType: 'text/markdown' };
  }
  return { body: Readable.from(notFoundIsGone(pieces)), contentType: 'text/markdown' };
}

async function openHosted(session: TeamsSession, item: SourceItem): Promise<ItemContent> {
  const channelId = text(item.fetch, 'channelId', item);
  const url = `${session.channelUrl(channelId)}/${text(item.fetch, 'messagePath', item)}/hostedContents/${encodeURIComponent(text(item.fetch, 'hostedId', item))}/$value`;
  try {
    const { body, headers } = await session.stream(url, { channelId, messages: true });
    const length = headers.get('content-length');
    return { body, contentType: headers.get('content-type') ?? undefined, size: length !== null && /^\d+$/.test(length) ? Number(length) : undefined };
  } catch (e) {
    throw itemGoneIfNotFound(e, goneMessage(item));
  }
}

/** The part of a OneDrive session that fetching one driveItem needs, from this Teams session. */
const driveSessionOf = (session: TeamsSession) => ({ graph: session.graph, ...(session.signal ? { signal: session.signal } : {}) });

export async function openTeamsContent(session: TeamsSession, item: SourceItem): Promise<ItemContent> {
  switch (item.fetch.kind) {
    case 'thread':
      return openThread(session, item);
    case 'hosted':
      return openHosted(session, item);
    default:
      // Channel files and shared attachments: a driveItem, fetched as OneDrive fetches it.
      return openDriveItemContent(driveSessionOf(session), item);
  }
}
