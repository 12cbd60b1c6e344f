import type { GraphAttachment } from './api.js';

/**
 * The text a person reads in an attachment that is not a file: Graph puts a
 * card's or a forwarded message's own content, as a JSON string, in the
 * attachment's `content`, and leaves only `<attachment id>` in the body
 * (https://learn.microsoft.com/en-us/graph/api/resources/chatmessageattachment).
 * Bots, Workflows, Forms and incoming webhooks post nothing else.
 *
 * - adaptive cards (`application/vnd.microsoft.card.adaptive`): TextBlock and
 *   TextRun text, FactSet facts, actions' titles;
 * - hero and thumbnail cards, announcement headers
 *   (`application/vnd.microsoft.card.announcement`), Office 365 connector cards
 *   (`application/vnd.microsoft.teams.card.o365connector`): title, subtitle,
 *   text, summary, section activity lines and facts, actions' names;
 * - forwarded messages (`forwardedMessageReference`): who wrote it, when, and its text;
 * - code snippets (`application/vnd.microsoft.card.codesnippet`): their code
 *   lives in a hosted content the `content` points at (`codeSnippetUrl`),
 *   read by the caller and fenced here.
 */

export const FORWARDED = 'forwardedMessageReference';
export const CODE_SNIPPET = 'application/vnd.microsoft.card.codesnippet';

/** Card text never grows without bound: a card is a post, not a file. */
const MAX_CARD_CHARS = 20_000;
const MAX_DEPTH = 12;

function parseContent(attachment: GraphAttachment): unknown {
  const raw = attachment.content;
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    // Some cards (and reports of connector posts) carry plain text or HTML rather than JSON.
    return raw;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/** Keys whose string values are text a reader sees on any of the card kinds above. */
const TEXT_KEYS = ['title', 'subtitle', 'activityTitle', 'activitySubtitle', 'activityText', 'summary', 'text'] as const;

function cardLines(node: unknown, lines: string[], depth = 0): void {
  if (depth > MAX_DEPTH) return;
  if (Array.isArray(node)) {
    for (const child of node) cardLines(child, lines, depth + 1);
    return;
  }
  if (!isRecord(node)) return;
  const type = str(node.type) ?? str(node['@type']) ?? '';
  if (type.startsWith('Action.') || type === 'ViewAction' || type === 'OpenUri' || type === 'HttpPOST' || type === 'ActionCard') {
    const label = str(node.title) ?? str(node.name);
    if (label) lines.push(`[${label}]`);
    if (isRecord(node.card)) cardLines(node.card, lines, depth + 1);
    return;
  }
  if (type === 'FactSet' || Array.isArray(node.facts)) {
    for (const key of TEXT_KEYS) if (type !== 'FactSet' && str(node[key])) lines.push(str(node[key]) ?? '');
    for (const fact of Array.isArray(node.facts) ? node.facts : []) {
      if (!isRecord(fact)) continue;
      const name = str(fact.title) ?? str(fact.name);
      const value = str(fact.value);
      if (name || value) lines.push(name && value ? `${name}: ${value}` : (name ?? value ?? ''));
    }
  } else {
    for (const key of TEXT_KEYS) {
      const value = str(node[key]);
      if (value) lines.push(value);
    }
  }
  for (const [key, value] of Object.entries(node)) {
    if ((TEXT_KEYS as readonly string[]).includes(key) || key === 'facts' || key === 'type') continue;
    if (typeof value === 'object' && value !== null) cardLines(value, lines, depth + 1);
  }
}

/** Who wrote a forwarded message, when, and what it said (the reference names the content "the original message context"). */
function forwardedText(content: unknown, htmlToMarkdown: (html: string) => string): string {
  if (!isRecord(content)) return typeof content === 'string' ? content.trim() : '';
  const sender = isRecord(content.messageSender) ? content.messageSender : isRecord(content.originalMessageSender) ? content.originalMessageSender : isRecord(content.from) ? content.from : {};
  const who =
    [sender.user, sender.application, sender.device].map((p) => (isRecord(p) ? str(p.displayName) : undefined)).find(Boolean) ?? 'unknown sender';
  const when = str(content.originalMessageSentDateTime) ?? str(content.originalSentDateTime) ?? str(content.createdDateTime);
  const body = isRecord(content.body) ? content.body : undefined;
  const html = str(content.originalMessageContent) ?? str(body?.content);
  const text = html !== undefined ? htmlToMarkdown(html) : (str(content.messagePreview) ?? '');
  const quoted = text.split('\n').map((line) => `> ${line}`.trimEnd()).join('\n');
  return `> Forwarded from **${who}**${when ? ` · ${when}` : ''}\n${quoted}`;
}

/** Where a code snippet's code is (a hosted content URL), or undefined. */
export function codeSnippetUrl(attachment: GraphAttachment): string | undefined {
  if (attachment.contentType !== CODE_SNIPPET) return undefined;
  const content = parseContent(attachment);
  return isRecord(content) ? str(content.codeSnippetUrl) : undefined;
}

export function fencedCode(code: string, attachment: GraphAttachment): string {
  const content = parseContent(attachment);
  const language = isRecord(content) ? (str(content.language)?.toLowerCase().replace(/[^a-z0-9+#-]/g, '') ?? '') : '';
  const fence = code.includes('```') ? '~~~' : '```';
  return `${fence}${language}\n${code.replace(/\n+$/, '')}\n${fence}`;
}

/**
 * The Markdown of a non-file attachment, or '' when it carries nothing to read
 * (a Loop component, a whiteboard, an empty card). Code snippets need their
 * hosted content: see codeSnippetUrl.
 */
export function attachmentText(attachment: GraphAttachment, htmlToMarkdown: (html: string) => string): string {
  const type = attachment.contentType ?? '';
  if (type === 'reference' || type === 'messageReference' || type === CODE_SNIPPET) return '';
  const content = parseContent(attachment);
  if (content === undefined) return '';
  if (type === FORWARDED) return forwardedText(content, htmlToMarkdown);
  if (typeof content === 'string') return type.startsWith('text/html') ? htmlToMarkdown(content) : content.trim();
  const lines: string[] = [];
  cardLines(content, lines);
  return lines.join('\n\n').slice(0, MAX_CARD_CHARS);
}
