import { createHash } from 'node:crypto';
import { type GraphAttachment, type GraphChatMessage, isConversationMessage, isDeleted } from './api.js';
import { attachmentText, codeSnippetUrl, fencedCode } from './cards.js';
import { htmlToMarkdown } from './html-markdown.js';

/**
 * One conversation (a channel post and its replies) as one Markdown document:
 *
 *     # Subject or first words
 *
 *     Team: Contoso · Channel: General (private channel)
 *
 *     **Alice Example** · 2026-03-04 10:00 UTC (edited 2026-03-04 10:05 UTC)
 *
 *     Body, HTML turned into Markdown, mentions as @Names, code blocks fenced.
 *
 *     Attachments: [report.pdf](https://…)
 *
 *     ## Replies
 *     … oldest first
 *
 * Deleted replies are left out; system events are left out and counted. Cards,
 * forwarded messages and code snippets are written out in their message
 * (cards.ts).
 */

export interface ThreadHeading {
  teamName: string;
  channelName: string;
  membershipType: string;
}

export interface RenderStats {
  /** System/event messages left out. */
  systemMessages: number;
  /** Deleted replies left out. */
  deletedReplies: number;
}

const MAX_TITLE_CHARS = 80;

function utc(value: string | null | undefined): string {
  if (!value) return 'unknown time';
  const t = Date.parse(value);
  return Number.isNaN(t) ? value : `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function author(m: GraphChatMessage): string {
  return m.from?.user?.displayName ?? m.from?.application?.displayName ?? m.from?.device?.displayName ?? 'Unknown sender';
}

export function messageMarkdown(m: GraphChatMessage): string {
  const content = m.body?.content ?? '';
  return (m.body?.contentType ?? 'html').toLowerCase() === 'text' ? content.trim() : htmlToMarkdown(content);
}

/** The document's title: the subject, or the first words of the root message. */
export function threadTitle(root: GraphChatMessage): string {
  const subject = root.subject?.trim();
  if (subject) return subject.slice(0, MAX_TITLE_CHARS);
  // A bot's or webhook's post has its words in a card only.
  const text = messageMarkdown(root) || (root.attachments ?? []).map((a) => attachmentText(a, htmlToMarkdown)).find((t) => t !== '') || '';
  const words = text
    .replace(/^> /gm, '')
    .replace(/(```|~~~)[\s\S]*?\1/g, ' ')
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/[*_`~]+/g, '')
    .replace(/[#>[\]()!|]+/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  let title = '';
  for (const word of words) {
    if ((title + ' ' + word).trim().length > MAX_TITLE_CHARS) break;
    title = `${title} ${word}`.trim();
    if (title.split(' ').length >= 10) break;
  }
  return title || `Conversation ${root.id}`;
}

/** Attachments a reader follows elsewhere: files by link; cards, forwards and snippets are written out in the message instead. */
function attachmentsLine(m: GraphChatMessage, written: ReadonlySet<GraphAttachment>): string {
  const links = (m.attachments ?? []).flatMap((a) => {
    if (a.contentType === 'messageReference' || written.has(a)) return [];
    const name = (a.name ?? '').trim() || (a.contentType === 'reference' ? 'shared file' : `${a.contentType ?? 'attachment'}`);
    const safe = name.replace(/[[\]]/g, '');
    return [a.contentType === 'reference' && a.contentUrl ? `[${safe}](${a.contentUrl.replace(/[()\s]/g, encodeURIComponent)})` : safe];
  });
  return links.length > 0 ? `Attachments: ${links.join(', ')}\n\n` : '';
}

/** How the renderer reads what a message only points at (a code snippet's hosted content). */
export interface RenderReader {
  /** The text at a Graph URL, or null when it is gone. */
  codeSnippet(url: string): Promise<string | null>;
}

const noReader: RenderReader = { codeSnippet: () => Promise.resolve(null) };

/** The message's readable attachments (cards, forwards, code snippets) as Markdown, and which ones they were. */
async function attachmentBlocks(m: GraphChatMessage, reader: RenderReader): Promise<{ text: string; written: Set<GraphAttachment> }> {
  const written = new Set<GraphAttachment>();
  const blocks: string[] = [];
  for (const a of m.attachments ?? []) {
    const snippet = codeSnippetUrl(a);
    if (snippet !== undefined) {
      const code = await reader.codeSnippet(snippet);
      blocks.push(code === null ? '_(code snippet no longer available)_' : fencedCode(code, a));
      written.add(a);
      continue;
    }
    const text = attachmentText(a, htmlToMarkdown);
    if (text !== '') {
      blocks.push(text);
      written.add(a);
    }
  }
  return { text: blocks.map((b) => `${b}\n\n`).join(''), written };
}

async function messageBlock(m: GraphChatMessage, reader: RenderReader): Promise<string> {
  const edited = m.lastEditedDateTime ? ` (edited ${utc(m.lastEditedDateTime)})` : '';
  const body = messageMarkdown(m);
  const { text, written } = await attachmentBlocks(m, reader);
  const shown = body === '' && text === '' ? '_(no text)_\n\n' : body === '' ? '' : `${body}\n\n`;
  return `**${author(m)}** · ${utc(m.createdDateTime)}${edited}\n\n${shown}${text}${attachmentsLine(m, written)}`;
}

export const REPLIES_HEADING = '## Replies\n\n';
export const DELETED_ROOT_TEXT = '_(original message deleted)_';

/** Oldest first, whatever order Graph pages them in (it lists replies newest first); same time: by id. */
function byCreation(a: { at: number; id: string }, b: { at: number; id: string }): number {
  return a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function createdAt(m: GraphChatMessage): number {
  const t = Date.parse(m.createdDateTime ?? '');
  return Number.isNaN(t) ? Number.MAX_SAFE_INTEGER : t;
}

/**
 * The document, piece by piece. Replies are sorted by creation time, so each
 * is rendered as it arrives and only its Markdown is kept until the last page
 * is read: a thread costs the memory of its text, not of Graph's pages. A
 * deleted root (Teams keeps its replies readable under "This message has been
 * deleted") is written as a placeholder.
 */
export async function* renderThread(
  heading: ThreadHeading,
  root: GraphChatMessage,
  replies: AsyncIterable<GraphChatMessage>,
  stats: RenderStats = { systemMessages: 0, deletedReplies: 0 },
  reader: RenderReader = noReader,
): AsyncGenerator<string> {
  const kind = heading.membershipType === 'standard' ? '' : ` (${heading.membershipType} channel)`;
  yield `# ${threadTitle(root)}\n\nTeam: ${heading.teamName} · Channel: ${heading.channelName}${kind}\n\n`;
  yield isDeleted(root) ? `${DELETED_ROOT_TEXT}\n\n` : await messageBlock(root, reader);
  const blocks: Array<{ at: number; id: string; text: string }> = [];
  for await (const reply of replies) {
    if (!isConversationMessage(reply)) {
      stats.systemMessages++;
      continue;
    }
    if (isDeleted(reply)) {
      stats.deletedReplies++;
      continue;
    }
    blocks.push({ at: createdAt(reply), id: reply.id, text: await messageBlock(reply, reader) });
  }
  if (blocks.length === 0) return;
  blocks.sort(byCreation);
  yield REPLIES_HEADING;
  for (const block of blocks) yield block.text;
}

/** What a rendered thread hashes to, and its length: the signature and size of its document. */
export async function digestThread(pieces: AsyncIterable<string>): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const piece of pieces) {
    const buffer = Buffer.from(piece);
    hash.update(buffer);
    bytes += buffer.length;
  }
  return { sha256: hash.digest('base64url'), bytes };
}
