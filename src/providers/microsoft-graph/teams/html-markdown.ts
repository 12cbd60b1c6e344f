import TurndownService from 'turndown';

/**
 * Teams message HTML as readable Markdown, through turndown. Teams adds a few
 * elements of its own: `<at>` (a mention, whose text is the person's name),
 * `<codeblock>` (a code block whose lines are split by `<br>`), `<emoji alt>`,
 * `<attachment id>` (a placeholder for an attachment, listed separately) and
 * `<img>` pointing at a hosted content (stored as its own document).
 */

/** The few DOM members we read (turndown parses with domino; the project has no DOM typings). */
interface DomNode {
  nodeType: number;
  nodeName: string;
  textContent: string | null;
  childNodes: ArrayLike<DomNode>;
  getAttribute?(name: string): string | null;
}

/** Text of a node with `<br>` as line breaks, the way a Teams code block is written. */
function codeText(element: unknown): string {
  const node = element as DomNode;
  let out = '';
  for (const child of Array.from<DomNode>(node.childNodes)) {
    if (child.nodeType === 3) out += child.textContent ?? '';
    else if (child.nodeName === 'BR') out += '\n';
    else {
      out += codeText(child);
      if (child.nodeName === 'DIV' || child.nodeName === 'P') out += '\n';
    }
  }
  return out;
}

const nameOf = (node: TurndownService.Node) => (node as unknown as DomNode).nodeName;

function attribute(node: TurndownService.Node, name: string): string {
  return (node as unknown as DomNode).getAttribute?.(name) ?? '';
}

function build(): TurndownService {
  // preformattedCode: a Teams code block is <codeblock><code>, whose spaces (indentation) must survive.
  const service = new TurndownService({
    headingStyle: 'atx',
    codeBlockStyle: 'fenced',
    bulletListMarker: '-',
    emDelimiter: '_',
    preformattedCode: true,
    // Teams writes an emoji as an empty <emoji alt="…">, which turndown would drop as blank; otherwise turndown's default.
    blankReplacement: (_content, node) => (nameOf(node) === 'EMOJI' ? attribute(node, 'alt') : (node as unknown as { isBlock?: boolean }).isBlock ? '\n\n' : ''),
  });
  service.addRule('mention', {
    filter: (node) => nameOf(node) === 'AT',
    replacement: (content) => (content.trim() === '' ? '' : `@${content.trim()}`),
  });
  service.addRule('codeblock', {
    filter: (node) => nameOf(node) === 'CODEBLOCK',
    replacement: (_content, node) => {
      const text = codeText(node).replace(/\n+$/, '');
      const language = attribute(node, 'class').split(/\s+/)[0]?.toLowerCase() ?? '';
      const fence = text.includes('```') ? '~~~' : '```';
      return `\n\n${fence}${language}\n${text}\n${fence}\n\n`;
    },
  });
  service.addRule('emoji', {
    filter: (node) => nameOf(node) === 'EMOJI',
    replacement: (_content, node) => attribute(node, 'alt'),
  });
  service.addRule('attachment-placeholder', {
    filter: (node) => ['ATTACHMENT', 'SYSTEMEVENTMESSAGE'].includes(nameOf(node)),
    replacement: () => '',
  });
  service.addRule('image', {
    filter: 'img',
    replacement: (_content, node) => {
      const alt = attribute(node, 'alt').trim();
      return alt && alt.toLowerCase() !== 'image' ? `[image: ${alt}]` : '[image]';
    },
  });
  return service;
}

// Stateless once built (rules only), so one instance serves every call.
const turndown = build();

export function htmlToMarkdown(html: string): string {
  if (html.trim() === '') return '';
  return turndown.turndown(html).trim();
}

/**
 * The image types Teams declares on an inline image: its `<img>` carries the
 * format as `itemscope` (`itemscope="png"`, as in the Teams message HTML shown
 * by Microsoft's "Enable inline image support" tutorial for Teams interop,
 * https://learn.microsoft.com/en-us/azure/communication-services/tutorials/chat-interop/meeting-interop-features-inline-image).
 * The hosted content's own `contentType` is no help: Graph documents it as
 * write-only, set when posting (https://learn.microsoft.com/en-us/graph/api/resources/chatmessagehostedcontent).
 */
const DECLARED_IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  bmp: 'image/bmp',
  tiff: 'image/tiff',
};

export interface HostedImage {
  id: string;
  /** The MIME type the `<img>` declares, when it declares one we know. */
  declaredType?: string;
}

function decoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Hosted contents referenced by `<img src=".../hostedContents/{id}/$value">` in a message body, each with the type its tag declares. */
export function hostedImages(html: string): HostedImage[] {
  const found = new Map<string, HostedImage>();
  for (const [tag] of html.matchAll(/<img\b[^>]*>/gi)) {
    const id = decoded(/\/hostedContents\/([^/"'\s]+)\/\$value/.exec(tag)?.[1] ?? '');
    if (id === '' || found.has(id)) continue;
    const declaredType = DECLARED_IMAGE_TYPES[(/\bitemscope\s*=\s*["']?([\w.]+)/i.exec(tag)?.[1] ?? '').toLowerCase()];
    found.set(id, { id, ...(declaredType ? { declaredType } : {}) });
  }
  return [...found.values()];
}
