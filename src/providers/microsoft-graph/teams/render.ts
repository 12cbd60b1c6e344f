import { createHash } from 'node:crypto';
import { type GraphChatMessage, isConversationMessage, isDeleted } from './api.js';
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
 *     ## Replies (newest first)
 *     …
 *
 * Deleted messages are left out; system events are left out and counted.
 * Replies come in the order Graph lists them (newest first), so a thread of
 * any length is rendered one message at a time, never held whole.
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
  const words = messageMarkdown(root)
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

function attachmentsLine(m: GraphChatMessage): string {
  const links = (m.attachments ?? []).flatMap((a) => {
    if (a.contentType === 'messageReference') return [];
    const name = (a.name ?? '').trim() || (a.contentType === 'reference' ? 'shared file' : `${a.contentType ?? 'attachment'}`);
    const safe = name.replace(/[[\]]/g, '');
    return [a.contentType === 'reference' && a.contentUrl ? `[${safe}](${a.contentUrl.replace(/[()\s]/g, encodeURIComponent)})` : safe];
  });
  return links.length > 0 ? `Attachments: ${links.join(', ')}\n\n` : '';
}

function messageBlock(m: GraphChatMessage): string {
  const edited = m.lastEditedDateTime ? ` (edited ${utc(m.lastEditedDateTime)})` : '';
  const body = messageMarkdown(m);
  return `**${author(m)}** · ${utc(m.createdDateTime)}${edited}\n\n${body === '' ? '_(no text)_' : body}\n\n${attachmentsLine(m)}`;
}

/**
 * The document, piece by piece. `replies` is read lazily, page by page, so a
 * long thread costs the memory of one page.
 */
export async function* renderThread(
  heading: ThreadHeading,
  root: GraphChatMessage,
  replies: AsyncIterable<GraphChatMessage>,
  stats: RenderStats = { systemMessages: 0, deletedReplies: 0 },
): AsyncGenerator<string> {
  const kind = heading.membershipType === 'standard' ? '' : ` (${heading.membershipType} channel)`;
  yield `# ${threadTitle(root)}\n\nTeam: ${heading.teamName} · Channel: ${heading.channelName}${kind}\n\n`;
  yield messageBlock(root);
  let first = true;
  for await (const reply of replies) {
    if (!isConversationMessage(reply)) {
      stats.systemMessages++;
      continue;
    }
    if (isDeleted(reply)) {
      stats.deletedReplies++;
      continue;
    }
    if (first) {
      yield '## Replies (newest first)\n\n';
      first = false;
    }
    yield messageBlock(reply);
  }
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
