import { describe, expect, it } from 'vitest';
import type { GraphChatMessage } from '../../../src/providers/microsoft-graph/teams/api.js';
import { hostedImages, htmlToMarkdown } from '../../../src/providers/microsoft-graph/teams/html-markdown.js';
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

  it('finds the inline images a body points at, with the type each <img> declares', () => {
    const html = '<img src="https://graph.microsoft.com/v1.0/teams/t/channels/19:a@thread.tacv2/messages/1/hostedContents/aWQ9eF8w/$value"><img src="x/hostedContents/aWQ9eF8w/$value">';
    expect(hostedImages(html)).toEqual([{ id: 'aWQ9eF8w' }]);
    expect(hostedImages('<p>no images</p>')).toEqual([]);
    const declared = '<img alt="image" src="x/hostedContents/YQ/$value" itemscope="png" width="250"><img itemscope="JPEG" src="x/hostedContents/Yg/$value"><img src="x/hostedContents/Yw/$value" itemscope="svg">';
    expect(hostedImages(declared)).toEqual([{ id: 'YQ', declaredType: 'image/png' }, { id: 'Yg', declaredType: 'image/jpeg' }, { id: 'Yw' }]);
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
      message({ id: '3', html: '<p>Newest</p>', createdDateTime: '2026-03-04T11:00:00Z', from: { user: { displayName: 'Bob' } } }),
      message({ id: '2', html: '<p>Removed</p>', deletedDateTime: '2026-03-05T00:00:00Z' }),
      message({ id: '4', messageType: 'systemEventMessage', html: '<systemEventMessage/>' }),
      message({ id: '5', body: { contentType: 'text', content: 'plain *text*' } }),
    ]);
    expect(text).toBe(
      '# Plan\n\nTeam: Contoso · Channel: General\n\n' +
        '**Alice Example** · 2026-03-04 10:00 UTC (edited 2026-03-04 10:05 UTC)\n\nHello\n\nAttachments: [a b.pdf](https://contoso.sharepoint.com/a%20b.pdf)\n\n' +
        '## Replies\n\n**Alice Example** · 2026-03-04 10:00 UTC\n\nplain *text*\n\n**Bob** · 2026-03-04 11:00 UTC\n\nNewest\n\n',
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

  it('lists replies oldest first whatever order they arrive in (Graph pages them newest first), same time by id', async () => {
    const at = (minute: number) => `2026-03-04T10:${String(minute).padStart(2, '0')}:00Z`;
    const { text } = await render(message({ subject: 'Question' }), [
      message({ id: '40', html: '<p>third</p>', createdDateTime: at(30) }),
      message({ id: '31', html: '<p>second, same minute</p>', createdDateTime: at(20) }),
      message({ id: '30', html: '<p>first, same minute</p>', createdDateTime: at(20) }),
      message({ id: '10', html: '<p>answer</p>', createdDateTime: at(5) }),
    ]);
    const order = ['answer', 'first, same minute', 'second, same minute', 'third'].map((t) => text.indexOf(t));
    expect(order.every((position) => position > text.indexOf('## Replies'))).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    let produced = 0;
    async function* many(): AsyncGenerator<GraphChatMessage> {
      for (let i = 4999; i >= 0; i--) {
        produced++;
        yield await Promise.resolve(message({ id: String(i), html: `<p>reply ${i}</p>`, createdDateTime: new Date(Date.UTC(2026, 2, 4) + i * 1000).toISOString() }));
      }
    }
    let long = '';
    for await (const piece of renderThread(heading, message(), many())) long += piece;
    expect(produced).toBe(5000);
    expect(long.indexOf('reply 0\n')).toBeLessThan(long.indexOf('reply 1\n'));
    expect(long.indexOf('reply 4998\n')).toBeLessThan(long.indexOf('reply 4999\n'));
  });

  it('writes a deleted root as a placeholder and keeps its replies', async () => {
    const { text } = await render(message({ deletedDateTime: '2026-03-05T00:00:00Z', body: { contentType: 'html', content: '' } }), [message({ id: '2', html: '<p>still here</p>' })]);
    expect(text).toContain('_(original message deleted)_');
    expect(text).toContain('still here');
  });
});

describe('Teams cards, forwarded messages and code snippets', () => {
  const card = (contentType: string, content: unknown) => ({ id: 'c1', contentType, content: JSON.stringify(content), contentUrl: null, name: null });

  it('writes the text of adaptive, hero and connector cards and announcements, with facts and action titles', async () => {
    // Shaped like the Adaptive Cards schema (adaptivecards.io) and a Workflows / Forms post.
    const adaptive = card('application/vnd.microsoft.card.adaptive', {
      type: 'AdaptiveCard',
      body: [
        { type: 'TextBlock', text: 'New form response', weight: 'Bolder' },
        { type: 'ColumnSet', columns: [{ type: 'Column', items: [{ type: 'TextBlock', text: 'Submitted by Dana' }] }] },
        { type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: 'Rich words' }] },
        { type: 'FactSet', facts: [{ title: 'Priority', value: 'High' }, { title: 'Due', value: 'Friday' }] },
      ],
      actions: [{ type: 'Action.OpenUrl', title: 'View response', url: 'https://forms.office.com/x' }],
    });
    // An incoming webhook's Office 365 connector card (MessageCard).
    const connector = card('application/vnd.microsoft.teams.card.o365connector', {
      '@type': 'MessageCard',
      title: 'Build failed',
      summary: 'CI',
      sections: [{ activityTitle: 'Pipeline main', activityText: 'Step test failed', facts: [{ name: 'Commit', value: 'abc123' }] }],
      potentialAction: [{ '@type': 'OpenUri', name: 'Open run' }],
    });
    const hero = card('application/vnd.microsoft.card.hero', { title: 'Lunch poll', text: 'Pizza or sushi?', buttons: [{ type: 'imBack', title: 'Pizza' }] });
    const announcement = card('application/vnd.microsoft.card.announcement', { title: 'All-hands moved to 3 pm' });
    const root = message({ html: '<attachment id="c1"></attachment>', attachments: [adaptive], from: { application: { displayName: 'Microsoft Forms' } } });
    const { text } = await render(root, [
      message({ id: '2', html: '<attachment id="c1"></attachment>', attachments: [connector] }),
      message({ id: '3', html: '', attachments: [hero] }),
      message({ id: '4', html: '<p>Heads up</p>', attachments: [announcement] }),
    ]);
    for (const words of ['New form response', 'Submitted by Dana', 'Rich words', 'Priority: High', 'Due: Friday', '[View response]', 'Build failed', 'Pipeline main', 'Step test failed', 'Commit: abc123', '[Open run]', 'Lunch poll', 'Pizza or sushi?', 'All-hands moved to 3 pm', 'Heads up']) {
      expect(text).toContain(words);
    }
    expect(text).not.toContain('_(no text)_');
    expect(text).not.toContain('Attachments: application/vnd');
    expect(threadTitle(root)).toBe('New form response Submitted by Dana Rich words Priority: High');
  });

  it('writes a forwarded message with who wrote it, when, and its text', async () => {
    const forwarded = card('forwardedMessageReference', {
      messageId: '1727874698829',
      messagePreview: 'The launch is on Tuesday',
      messageSender: { user: { id: 'u1', displayName: 'Robin Kline', userIdentityType: 'aadUser' } },
      originalMessageSentDateTime: '2026-03-01T09:00:00Z',
    });
    const { text } = await render(message({ html: '<p>FYI</p><attachment id="c1"></attachment>', attachments: [forwarded] }));
    expect(text).toContain('FYI\n\n> Forwarded from **Robin Kline** · 2026-03-01T09:00:00Z\n> The launch is on Tuesday');
  });

  it('fences a code snippet read from its hosted content, and says so when it is gone', async () => {
    const snippet = card('application/vnd.microsoft.card.codesnippet', { language: 'Python', codeSnippetUrl: 'https://graph.microsoft.com/v1.0/x/hostedContents/s1/$value', wrap: false });
    const root = message({ html: '<attachment id="c1"></attachment>', attachments: [snippet] });
    let text = '';
    const reader = { codeSnippet: (url: string) => Promise.resolve(url.includes('/s1/') ? 'print("hi")\n' : null) };
    for await (const piece of renderThread(heading, root, list([]), undefined, reader)) text += piece;
    expect(text).toContain('```python\nprint("hi")\n```');
    text = '';
    for await (const piece of renderThread(heading, root, list([]))) text += piece;
    expect(text).toContain('_(code snippet no longer available)_');
  });
});
