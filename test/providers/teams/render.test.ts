import { describe, expect, it } from 'vitest';
import type { GraphChatMessage } from '../../../src/providers/microsoft-graph/teams/api.js';
import { hostedContentIds, htmlToMarkdown } from '../../../src/providers/microsoft-graph/teams/html-markdown.js';
import { digestThread, renderThread, threadTitle } from '../../../src/providers/microsoft-graph/teams/render.js';

const heading = { teamName: 'Contoso', channelName: 'General', membershipType: 'standard' };

function message(over: Partial<GraphChatMessage> & { html?: string } = {}): GraphChatMessage {
  const { html, ...rest } = over;
  return {
    id: '1',
    messageType: 'message',
    createdDateTime: '2026-03-04T10:00:00Z',
    from: { user: { displayName: 'Alice Example' } },
    body: { contentType: 'html', content: html ?? '<p>Hello</p>' },
    attachments: [],
    ...rest,
  };
}

async function* list<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}

async function render(root: GraphChatMessage, replies: GraphChatMessage[] = []) {
  const stats = { systemMessages: 0, deletedReplies: 0 };
  let text = '';
  for await (const piece of renderThread(heading, root, list(replies), stats)) text += piece;
  return { text, stats };
}

describe('Teams HTML to Markdown', () => {
  it('keeps what a reader needs: emphasis, lists, links, mentions as names, code blocks, emoji', () => {
    expect(htmlToMarkdown('<p>Hi <at id="0">Bob Builder</at>, <b>look</b> at <a href="https://contoso.example/x">this</a></p>')).toBe(
      'Hi @Bob Builder, **look** at [this](https://contoso.example/x)',
    );
    expect(htmlToMarkdown('<ul><li>one</li><li>two</li></ul>')).toBe('-   one\n-   two');
    expect(htmlToMarkdown('<codeblock class="Python"><code>def f():<br>    return 1</code></codeblock>')).toBe('```python\ndef f():\n    return 1\n```');
    expect(htmlToMarkdown('<pre><code>a\nb</code></pre>')).toBe('```\na\nb\n```');
    expect(htmlToMarkdown('<p>done <emoji alt="👍"></emoji></p>')).toBe('done👍');
    expect(htmlToMarkdown('<p>see <attachment id="x"></attachment><img src="https://graph/x/hostedContents/abc/$value" alt="image"></p>')).toBe('see [image]');
    expect(htmlToMarkdown('   ')).toBe('');
  });

  it('finds the inline images a body points at', () => {
    const html = '<img src="https://graph.microsoft.com/v1.0/teams/t/channels/19:a@thread.tacv2/messages/1/hostedContents/aWQ9eF8w/$value"><img src="x/hostedContents/aWQ9eF8w/$value">';
    expect(hostedContentIds(html)).toEqual(['aWQ9eF8w']);
    expect(hostedContentIds('<p>no images</p>')).toEqual([]);
  });
});

describe('Teams thread document', () => {
  it('titles a thread by its subject, else its first words', () => {
    expect(threadTitle(message({ subject: 'Launch plan' }))).toBe('Launch plan');
    expect(threadTitle(message({ html: '<p>One two three four five six seven eight nine ten eleven</p>' }))).toBe('One two three four five six seven eight nine ten');
    expect(threadTitle(message({ html: '<codeblock><code>only code</code></codeblock>' }))).toBe('Conversation 1');
  });

  it('writes author, time, edits and attachments; leaves out deleted and system replies, counting them', async () => {
    const root = message({ subject: 'Plan', lastEditedDateTime: '2026-03-04T10:05:00Z', attachments: [{ id: 'a', contentType: 'reference', contentUrl: 'https://contoso.sharepoint.com/a b.pdf', name: 'a b.pdf' }] });
    const { text, stats } = await render(root, [
      message({ id: '3', html: '<p>Newest</p>', from: { user: { displayName: 'Bob' } } }),
      message({ id: '2', html: '<p>Removed</p>', deletedDateTime: '2026-03-05T00:00:00Z' }),
      message({ id: '4', messageType: 'systemEventMessage', html: '<systemEventMessage/>' }),
      message({ id: '5', body: { contentType: 'text', content: 'plain *text*' } }),
    ]);
    expect(text).toBe(
      '# Plan\n\nTeam: Contoso · Channel: General\n\n' +
        '**Alice Example** · 2026-03-04 10:00 UTC (edited 2026-03-04 10:05 UTC)\n\nHello\n\nAttachments: [a b.pdf](https://contoso.sharepoint.com/a%20b.pdf)\n\n' +
        '## Replies (newest first)\n\n**Bob** · 2026-03-04 10:00 UTC\n\nNewest\n\n**Alice Example** · 2026-03-04 10:00 UTC\n\nplain *text*\n\n',
    );
    expect(stats).toEqual({ systemMessages: 1, deletedReplies: 1 });
  });

  it('hashes to the same signature exactly when the text is the same', async () => {
    const digest = async (root: GraphChatMessage, replies: GraphChatMessage[] = []) => digestThread(renderThread(heading, root, list(replies)));
    const a = await digest(message(), [message({ id: '2' })]);
    expect(await digest(message(), [message({ id: '2', lastModifiedDateTime: '2026-04-01T00:00:00Z' })])).toEqual(a);
    expect(await digest(message(), [message({ id: '2', html: '<p>Hello!</p>' })])).not.toEqual(a);
    expect(a.bytes).toBe(Buffer.byteLength((await render(message(), [message({ id: '2' })])).text));
  });

  it('renders a thread of thousands of replies one page at a time', async () => {
    let produced = 0;
    async function* many(): AsyncGenerator<GraphChatMessage> {
      for (let i = 0; i < 5000; i++) {
        produced++;
        yield await Promise.resolve(message({ id: String(i), html: `<p>reply ${i}</p>` }));
      }
    }
    const pieces = renderThread(heading, message(), many());
    await pieces.next();
    await pieces.next();
    await pieces.next();
    // The renderer pulled only what it wrote: nothing is read ahead into memory.
    expect(produced).toBe(1);
    let count = 3;
    for await (const _ of pieces) count++;
    expect(count).toBe(5003);
  });
});
