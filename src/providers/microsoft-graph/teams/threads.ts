import { isNotFound, isPermanent, isUnauthorized, SourceProtocolError } from '../../../errors.js';
import { resolveContentType } from '../../../contract.js';
import type { SourceChange } from '../../types.js';
import { DRIVE_ITEM_FIELDS, readDriveItem } from '../onedrive/api.js';
import { fileChange } from '../onedrive/mapping.js';
import type { TeamsSession } from './session.js';
import type { ChannelInfo } from './channels.js';
import { type GraphAttachment, type GraphChatMessage, isConversationMessage, isDeleted, readChatMessage, readReplyPage, type RootMessage } from './api.js';
import { attachmentText, codeSnippetUrl } from './cards.js';
import { hostedImages, htmlToMarkdown } from './html-markdown.js';
import { isMicrosoft365Url, REFUSED_LINK_REASON, shareToken } from './links.js';
import { hostedItem, threadItem, threadSourceId } from './mapping.js';
import { digestThread, type RenderReader, renderThread, type ThreadHeading, threadTitle } from './render.js';

/**
 * One page of root messages into changes: each live conversation becomes a
 * thread document (rendered once here to learn its signature), plus its shared
 * files (resolved through the shares API) and inline images; a deleted root
 * keeps its document while a reply is readable; system events are skipped and counted.
 */

export const SYSTEM_MESSAGE_REASON = 'Teams system event (not a conversation message)';
export const NO_BYTES_REASON = 'card, Loop component or whiteboard (no file bytes to store)';
export const GONE_SHARE_REASON = 'shared file is gone or not shared with this app';
export const GONE_IMAGE_REASON = 'inline image no longer exists';
const REPLIES_PAGE = 50;

export interface ChannelPage {
  session: TeamsSession;
  teamName: string;
  channel: ChannelInfo;
  /** Shared-file links already resolved in this page (a file shared twice is asked for once). */
  shared: Map<string, SourceChange>;
}

/** Graph's cap on replies expanded with a root; past it, `replies@odata.nextLink` should follow. */
export const EXPANDED_REPLIES_CAP = 1000;

/**
 * The replies of a root: those Graph expanded, then the rest page by page; or
 * every page when none were expanded. A root that arrives with a full 1,000
 * replies and no `replies@odata.nextLink` (reported: microsoft-graph-docs-contrib#8819)
 * is read from `/replies` from the start instead: its expansion may be cut short.
 */
export async function* repliesOf(session: TeamsSession, channelId: string, root: RootMessage): AsyncGenerator<GraphChatMessage> {
  let next: string | undefined;
  const expanded = root.replies;
  const cutShort = expanded !== undefined && expanded.length >= EXPANDED_REPLIES_CAP && root['replies@odata.nextLink'] === undefined;
  if (expanded !== undefined && !cutShort) {
    yield* expanded;
    next = root['replies@odata.nextLink'];
  } else {
    if (cutShort) session.logger.info({ channelId, rootId: root.id }, 'a thread came with 1,000 replies and no link to the rest; reading its replies page by page');
    next = `${session.channelUrl(channelId)}/messages/${encodeURIComponent(root.id)}/replies?$top=${REPLIES_PAGE}`;
  }
  while (next !== undefined) {
    const page = readReplyPage(await session.json(next, { channelId, messages: true }), 'GET replies');
    yield* page.value;
    next = page['@odata.nextLink'];
  }
}

/** Longest code snippet kept in a thread document. */
const MAX_SNIPPET_BYTES = 256 * 1024;

/** Reads code snippets' hosted contents for the renderer (a snippet gone since: null). */
export function snippetReader(session: TeamsSession, channelId: string): RenderReader {
  return {
    async codeSnippet(url) {
      let body;
      try {
        ({ body } = await session.stream(url, { channelId, messages: true }));
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_SNIPPET_BYTES) {
          body.destroy();
          break;
        }
      }
      return Buffer.concat(chunks).subarray(0, MAX_SNIPPET_BYTES).toString('utf8');
    },
  };
}

interface Found {
  attachments: GraphAttachment[];
  hosted: Array<{ messageId: string; messagePath: string; hostedId: string; declaredType?: string }>;
  systemMessageIds: string[];
}

function collect(found: Found, message: GraphChatMessage, messagePath: string): void {
  if (!isConversationMessage(message)) {
    found.systemMessageIds.push(message.id);
    return;
  }
  if (isDeleted(message)) return;
  found.attachments.push(...(message.attachments ?? []));
  for (const image of hostedImages(message.body?.content ?? '')) {
    found.hosted.push({ messageId: message.id, messagePath, hostedId: image.id, ...(image.declaredType ? { declaredType: image.declaredType } : {}) });
  }
}

async function resolveShared(page: ChannelPage, url: string, skipId: string): Promise<SourceChange> {
  const known = page.shared.get(url);
  if (known) return known;
  let change: SourceChange;
  try {
    const data = await page.session.json(`${page.session.graph.baseUrl}/shares/${shareToken(url)}/driveItem?$select=${DRIVE_ITEM_FIELDS}`, { outsideTeams: true });
    const item = readDriveItem(data, 'GET shares driveItem');
    change = fileChange(item, item.parentReference?.driveId ?? '');
  } catch (e) {
    // Gone, or shared with people but not with this app: the thread still links it by name.
    if (isNotFound(e) || isPermanent(e)) change = { kind: 'skip', sourceId: skipId, reason: GONE_SHARE_REASON };
    else throw e;
  }
  page.shared.set(url, change);
  return change;
}

async function attachmentChange(page: ChannelPage, threadId: string, attachment: GraphAttachment): Promise<SourceChange | null> {
  const skipId = `${threadId}:attachment:${encodeURIComponent(attachment.id ?? 'unknown')}`;
  const name = attachment.name ?? undefined;
  if (attachment.contentType === 'messageReference') return null; // a quoted message, not a file
  // Cards, forwarded messages and code snippets: their text is in the thread document.
  if (codeSnippetUrl(attachment) !== undefined || attachmentText(attachment, htmlToMarkdown) !== '') return null;
  if (attachment.contentType !== 'reference') return { kind: 'skip', sourceId: skipId, name, reason: NO_BYTES_REASON };
  const url = attachment.contentUrl ?? '';
  // Never fetched: only a Microsoft 365 link is even handed to Graph.
  if (!isMicrosoft365Url(url)) return { kind: 'skip', sourceId: skipId, name, reason: REFUSED_LINK_REASON };
  if (/\.(loop|fluid|whiteboard)$/i.test(name ?? new URL(url).pathname)) return { kind: 'skip', sourceId: skipId, name, reason: NO_BYTES_REASON };
  return resolveShared(page, url, skipId);
}

/**
 * An inline image: its type from what its `<img>` declares, without a request;
 * only an image that declares none is asked for its download's Content-Type
 * (headers read, body dropped). The bytes are fetched once, when stored.
 */
async function hostedChange(page: ChannelPage, threadId: string, title: string, hosted: Found['hosted'][number], index: number, webUrl?: string | null): Promise<SourceChange> {
  const { session, channel } = page;
  const { declaredType, ...ref } = hosted;
  let contentType = declaredType;
  if (contentType === undefined) {
    const url = `${session.channelUrl(channel.id)}/${hosted.messagePath}/hostedContents/${encodeURIComponent(hosted.hostedId)}/$value`;
    try {
      const { body, headers } = await session.stream(url, { channelId: channel.id, messages: true });
      body.destroy();
      contentType = resolveContentType('', headers.get('content-type') ?? undefined);
    } catch (e) {
      if (isNotFound(e)) return { kind: 'skip', sourceId: `${threadId}:hosted:${hosted.hostedId}`, reason: GONE_IMAGE_REASON };
      throw e;
    }
  }
  return { kind: 'upsert', item: hostedItem(threadId, title, { kind: 'hosted', channelId: channel.id, ...ref }, contentType, index, webUrl) };
}

async function readThread(page: ChannelPage, root: RootMessage): Promise<SourceChange[]> {
  const { session, channel } = page;
  const threadId = threadSourceId(session.config.teamId, channel.id, root.id);
  const rootDeleted = isDeleted(root);
  if (!rootDeleted && !isConversationMessage(root)) return [{ kind: 'skip', sourceId: threadId, reason: SYSTEM_MESSAGE_REASON }];

  const found: Found = { attachments: [], hosted: [], systemMessageIds: [] };
  collect(found, root, `messages/${encodeURIComponent(root.id)}`);
  const replies = repliesOf(session, channel.id, root);
  let readable = 0;
  async function* collecting(): AsyncGenerator<GraphChatMessage> {
    for await (const reply of replies) {
      collect(found, reply, `messages/${encodeURIComponent(root.id)}/replies/${encodeURIComponent(reply.id)}`);
      if (isConversationMessage(reply) && !isDeleted(reply)) readable++;
      yield reply;
    }
  }
  const heading: ThreadHeading = { teamName: page.teamName, channelName: channel.name, membershipType: channel.membershipType };
  let digest;
  try {
    digest = await digestThread(renderThread(heading, root, collecting(), undefined, snippetReader(session, channel.id)));
  } catch (e) {
    // The thread went away while it was read (a deleted root's whole thread, or one removed for good): not the channel.
    if (isNotFound(e)) return [{ kind: 'delete', sourceId: threadId }];
    throw e;
  }
  // In Teams a deleted root leaves its replies readable: the thread goes only when nothing readable is left.
  if (rootDeleted && readable === 0) return [{ kind: 'delete', sourceId: threadId }];
  const title = threadTitle(root);

  const changes: SourceChange[] = [{ kind: 'upsert', item: threadItem(session.config.teamId, page.teamName, channel, root, title, digest) }];
  for (const id of found.systemMessageIds) changes.push({ kind: 'skip', sourceId: `${threadId}:${encodeURIComponent(id)}`, reason: SYSTEM_MESSAGE_REASON });
  for (const attachment of found.attachments) {
    const change = await attachmentChange(page, threadId, attachment);
    if (change) changes.push(change);
  }
  let index = 0;
  for (const hosted of found.hosted) changes.push(await hostedChange(page, threadId, title, hosted, ++index, root.webUrl));
  return changes;
}

export const UNREADABLE_THREAD_REASON = 'the thread could not be read this time';

/** Changes of a page of threads, and the roots of those that could not be read (to read again by id next pass). */
export interface ThreadsRead {
  changes: SourceChange[];
  failedRoots: string[];
}

/**
 * A refusal or a garbled answer while one thread is read (its replies, a
 * hosted image, its root by id) is that thread's failure, not its channel's:
 * recorded with the reason, and its root kept to be read again by id, so one
 * bad thread never holds back the threads after it. A sign-in refusal, or
 * anything worth retrying now (throttling, an outage), is not one thread's.
 */
function threadFailure(page: ChannelPage, threadId: string, rootId: string, e: unknown, read: ThreadsRead): boolean {
  if (isUnauthorized(e) || !(isPermanent(e) || e instanceof SourceProtocolError)) return false;
  const code = isPermanent(e) ? e.code : 'protocolError';
  page.session.logger.warn({ channelId: page.channel.id, rootId, code, error: e.message }, `${UNREADABLE_THREAD_REASON}; it is read again next sync`);
  read.changes.push({ kind: 'fail', sourceId: threadId, reason: `${UNREADABLE_THREAD_REASON}: ${e.message}`, code });
  read.failedRoots.push(rootId);
  return true;
}

async function threadInto(page: ChannelPage, root: RootMessage, read: ThreadsRead): Promise<void> {
  try {
    read.changes.push(...(await readThread(page, root)));
  } catch (e) {
    if (!threadFailure(page, threadSourceId(page.session.config.teamId, page.channel.id, root.id), root.id, e, read)) throw e;
  }
}

/** A thread read again from its root, by id (gone: its document is deleted). */
async function rootInto(page: ChannelPage, rootId: string, read: ThreadsRead): Promise<void> {
  const { session, channel } = page;
  const threadId = threadSourceId(session.config.teamId, channel.id, rootId);
  let root: RootMessage;
  try {
    root = readChatMessage(await session.json(`${session.channelUrl(channel.id)}/messages/${encodeURIComponent(rootId)}`, { channelId: channel.id, messages: true }), 'GET message');
  } catch (e) {
    if (isNotFound(e)) read.changes.push({ kind: 'delete', sourceId: threadId });
    else if (!threadFailure(page, threadId, rootId, e, read)) throw e;
    return;
  }
  await threadInto(page, root, read);
}

/** Threads that could not be read in an earlier pass, read again by their roots' ids. */
export async function rootsChanges(page: ChannelPage, rootIds: readonly string[]): Promise<ThreadsRead> {
  const read: ThreadsRead = { changes: [], failedRoots: [] };
  for (const rootId of rootIds) await rootInto(page, rootId, read);
  return read;
}

/**
 * A page of delta items into changes. A filtered round returns "reply chains";
 * whether a reply may come as an item of its own (with `replyToId`) is unsaid,
 * so one that does is read as a change to its thread: the thread is rendered
 * from its root (read once per page; gone: its document is deleted).
 */
export async function pageChanges(page: ChannelPage, items: readonly RootMessage[]): Promise<ThreadsRead> {
  const read: ThreadsRead = { changes: [], failedRoots: [] };
  const rendered = new Set<string>();
  for (const item of items) {
    if (item.replyToId) continue;
    rendered.add(item.id);
    await threadInto(page, item, read);
  }
  for (const rootId of new Set(items.flatMap((m) => (m.replyToId ? [m.replyToId] : [])))) {
    if (!rendered.has(rootId)) await rootInto(page, rootId, read);
  }
  return read;
}
