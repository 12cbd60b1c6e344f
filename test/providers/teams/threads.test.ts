import { describe, expect, it } from 'vitest';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { contentOf, deletes, failures, pass, skips, teamsContext, teamsProvider, threads, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;
useGraphEmulator((e) => (emulator = e));

/** Posted before the sync starts, outside the overlap the first delta round re-reads. */
const earlier = (minutesAgo = 20) => new Date(Date.now() - minutesAgo * 60_000);

function channel() {
  const team = emulator.teams.addTeam('Contoso');
  const general = emulator.teams.addChannel(team.id, 'General', { withoutFilesFolder: true });
  return { team, general };
}

describe('Teams threads as Graph answers them', () => {
  it('lists replies oldest first though Graph pages them newest first, in listing, delta and transfer alike', async () => {
    const { team, general } = channel();
    const root = emulator.teams.post(general, { at: earlier(60), html: '<p>Which database?</p>' });
    emulator.teams.reply(general, root.id, { at: earlier(50), html: '<p>answer one</p>' });
    emulator.teams.reply(general, root.id, { at: earlier(40), html: '<p>answer two</p>' });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id });
    const first = await pass(provider, ctx, null);
    const [doc] = threads(first.changes);
    const text = await contentOf(provider, ctx, doc!);
    expect(text.indexOf('Which database?')).toBeLessThan(text.indexOf('answer one'));
    expect(text.indexOf('answer one')).toBeLessThan(text.indexOf('answer two'));
    expect(Buffer.byteLength(text)).toBe(doc?.size);

    emulator.teams.reply(general, root.id, { html: '<p>answer three</p>' });
    const second = await pass(provider, ctx, first.cursor);
    const again = await contentOf(provider, ctx, threads(second.changes)[0]!);
    expect(again.indexOf('answer two')).toBeLessThan(again.indexOf('answer three'));
  });

  it('a reply that delta sends as an item of its own (with replyToId) re-renders its thread, never a thread of its own', async () => {
    const { team, general } = channel();
    general.deltaRepliesAsItems = true;
    const old = emulator.teams.post(general, { at: earlier(60), html: '<p>Release plan</p>' });
    emulator.teams.reply(general, old.id, { at: earlier(50), html: '<p>first answer</p>' });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id });
    const first = await pass(provider, ctx, null);
    expect(threads(first.changes).map((t) => t.sourceId)).toEqual([expect.stringMatching(new RegExp(`:${old.id}$`))]);

    const reply = emulator.teams.reply(general, old.id, { at: new Date(), html: '<p>late answer</p>' });
    const second = await pass(provider, ctx, first.cursor);
    const changed = threads(second.changes);
    expect(changed.map((t) => t.sourceId)).toEqual([threads(first.changes)[0]?.sourceId]);
    expect(changed[0]?.signature).not.toBe(threads(first.changes)[0]?.signature);
    expect(await contentOf(provider, ctx, changed[0]!)).toMatch(/first answer[\s\S]*late answer/);
    expect(second.changes.some((c) => 'sourceId' in c && c.sourceId.endsWith(reply.id))).toBe(false);
    // Its root was read once, by id.
    expect(emulator.requests.filter((r) => r.path.endsWith(`/messages/${old.id}`)).length).toBeGreaterThanOrEqual(1);
  });

  it('reads every reply of a thread whose 1,000 expanded replies come without a next link', async () => {
    const { team, general } = channel();
    const root = emulator.teams.post(general, { at: earlier(60), html: '<p>Busy thread</p>' });
    const start = earlier(59).getTime();
    for (let i = 0; i < 1005; i++) emulator.teams.reply(general, root.id, { at: new Date(start + i * 1000), html: `<p>reply number ${i}</p>` });
    emulator.omitRepliesNextLink = true;
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id });
    const { changes } = await pass(provider, ctx, null);
    const text = await contentOf(provider, ctx, threads(changes)[0]!);
    // The oldest five are the ones past Graph's 1,000 (newest first): they are there, in order.
    expect(text).toContain('reply number 0\n');
    expect(text).toContain('reply number 1004\n');
    expect(text.match(/reply number \d+/g)?.length).toBe(1005);
    expect(text.indexOf('reply number 4\n')).toBeLessThan(text.indexOf('reply number 5\n'));
  });

  it('keeps a thread whose root was deleted while replies remain, and deletes it once none is left', async () => {
    const { team, general } = channel();
    const root = emulator.teams.post(general, { at: earlier(), html: '<p>Original question</p>' });
    const reply = emulator.teams.reply(general, root.id, { html: '<p>The useful answer</p>' });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id });
    const first = await pass(provider, ctx, null);
    const id = threads(first.changes)[0]?.sourceId;

    emulator.teams.deleteMessage(general, root.id);
    const second = await pass(provider, ctx, first.cursor);
    expect(deletes(second.changes)).toEqual([]);
    const kept = threads(second.changes)[0];
    expect(kept?.sourceId).toBe(id);
    const text = await contentOf(provider, ctx, kept!);
    expect(text).toContain('(original message deleted)');
    expect(text).not.toContain('Original question');
    expect(text).toContain('The useful answer');

    emulator.teams.deleteMessage(general, reply.id);
    const third = await pass(provider, ctx, second.cursor);
    expect(deletes(third.changes)).toEqual([id]);
  });

  it('a thread that vanishes while its replies are read is deleted, not taken for a vanished channel', async () => {
    const { team, general } = channel();
    const root = emulator.teams.post(general, { at: earlier(), html: '<p>Going</p>' });
    emulator.teams.reply(general, root.id, { html: '<p>reply one</p>' });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id });
    const first = await pass(provider, ctx, null);
    emulator.teams.reply(general, root.id, { html: '<p>reply two</p>' });
    // One reply expanded, the rest behind replies@odata.nextLink, which answers 404: the thread is gone by then.
    emulator.expandedReplies = 1;
    emulator.faults.push({ match: (r) => r.path.endsWith(`/messages/${root.id}/replies`), status: 404, code: 'NotFound' });
    const second = await pass(provider, ctx, first.cursor);
    expect(deletes(second.changes)).toEqual([threads(first.changes)[0]?.sourceId]);
    expect(second.pages.some((p) => p.fullEnumeration)).toBe(false);
  });

  it('a thread whose replies Graph answers garbled fails alone: the threads after it sync, and it is read again by id next pass', async () => {
    const { team, general } = channel();
    const bad = emulator.teams.post(general, { at: earlier(60), html: '<p>Budget</p>' });
    emulator.teams.reply(general, bad.id, { at: earlier(55), html: '<p>first reply</p>' });
    emulator.teams.reply(general, bad.id, { at: earlier(50), html: '<p>second reply</p>' });
    emulator.teams.post(general, { at: earlier(40), html: '<p>Roadmap</p>' });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id });
    // One reply expanded, the rest behind replies@odata.nextLink, which a proxy spoils.
    emulator.expandedReplies = 1;
    emulator.faults.push({ match: (r) => r.path.endsWith(`/messages/${bad.id}/replies`), garbage: true, times: 100 });
    const first = await pass(provider, ctx, null);
    const badThread = `:${bad.id}`;
    expect(failures(first.changes).map((f) => [f.sourceId.endsWith(badThread), f.code, f.reason.split(':')[0]])).toEqual([[true, 'protocolError', 'the thread could not be read this time']]);
    expect(threads(first.changes).map((t) => t.name)).toEqual(['Roadmap.md']);
    expect(first.changes.some((c) => c.kind === 'fail' && c.sourceId.startsWith('teams-channel:'))).toBe(false);

    // Nothing changes at the source; the proxy is fixed: the thread is read again by its root's id.
    emulator.faults.length = 0;
    const second = await pass(provider, ctx, first.cursor);
    expect(failures(second.changes)).toEqual([]);
    const rootReads = () => emulator.requests.filter((r) => r.path.endsWith(`/messages/${bad.id}`)).length;
    expect(rootReads()).toBe(1);
    const [again] = threads(second.changes);
    expect(again?.sourceId.endsWith(badThread)).toBe(true);
    expect(await contentOf(provider, ctx, again!)).toMatch(/first reply[\s\S]*second reply/);

    // Read once it is read: the pass after does not ask for it again.
    const readsBefore = rootReads();
    const third = await pass(provider, ctx, second.cursor);
    expect(threads(third.changes)).toEqual([]);
    expect(rootReads()).toBe(readsBefore);
  });

  it('a reply item whose root Graph refuses (403) fails its thread only, and stays failed each pass until the root reads', async () => {
    const { team, general } = channel();
    general.deltaRepliesAsItems = true;
    const old = emulator.teams.post(general, { at: earlier(60), html: '<p>Release plan</p>' });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id });
    const first = await pass(provider, ctx, null);

    emulator.teams.reply(general, old.id, { html: '<p>late answer</p>' });
    emulator.teams.post(general, { html: '<p>New topic</p>' });
    emulator.faults.push({ match: (r) => r.path.endsWith(`/messages/${old.id}`), status: 403, code: 'Forbidden', times: 2 });
    const second = await pass(provider, ctx, first.cursor);
    expect(failures(second.changes).map((f) => [f.sourceId, f.code])).toEqual([[threads(first.changes)[0]?.sourceId, 'accessDenied']]);
    expect(threads(second.changes).map((t) => t.name)).toEqual(['New topic.md']);

    // Refused again on the retry: failed again, kept for the pass after.
    const third = await pass(provider, ctx, second.cursor);
    expect(failures(third.changes).map((f) => f.sourceId)).toEqual([threads(first.changes)[0]?.sourceId]);
    const fourth = await pass(provider, ctx, third.cursor);
    expect(failures(fourth.changes)).toEqual([]);
    expect(await contentOf(provider, ctx, threads(fourth.changes)[0]!)).toMatch(/Release plan[\s\S]*late answer/);
  });

  it('writes cards, forwarded messages and code snippets into the thread instead of skipping them', async () => {
    const { team, general } = channel();
    // Shapes from the chatMessageAttachment reference and the Adaptive Cards schema: the text lives in `content` (JSON), the body holds only <attachment id>.
    emulator.teams.post(general, {
      at: earlier(),
      author: null,
      html: '<attachment id="card1"></attachment>',
      attachments: [
        {
          id: 'card1',
          contentType: 'application/vnd.microsoft.card.adaptive',
          content: JSON.stringify({
            type: 'AdaptiveCard',
            body: [{ type: 'TextBlock', text: 'Incident 42 opened' }, { type: 'FactSet', facts: [{ title: 'Severity', value: '2' }] }],
            actions: [{ type: 'Action.OpenUrl', title: 'Open incident', url: 'https://contoso.example/42' }],
          }),
        },
      ],
    });
    const forwarded = emulator.teams.post(general, {
      at: earlier(),
      html: '<p>Look at this</p><attachment id="fwd"></attachment>',
      attachments: [
        {
          id: 'fwd',
          contentType: 'forwardedMessageReference',
          content: JSON.stringify({ messageId: '1', messagePreview: 'Budget approved for Q3', messageSender: { user: { displayName: 'Chief Finance' } } }),
        },
      ],
    });
    emulator.teams.reply(general, forwarded.id, {
      html: '<attachment id="snip"></attachment>',
      hosted: [{ bytes: 'SELECT 1;\n', contentType: 'text/plain' }],
      attachments: [{ id: 'snip', contentType: 'application/vnd.microsoft.card.codesnippet', content: JSON.stringify({ language: 'SQL', codeSnippetUrl: '{{hosted:0}}', wrap: false }) }],
    });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id });
    const { changes } = await pass(provider, ctx, null);
    expect(skips(changes)).toEqual([]);
    const docs = threads(changes);
    const card = docs.find((d) => d.name === 'Incident 42 opened Severity: 2 Open incident.md');
    expect(card).toBeDefined();
    const cardText = await contentOf(provider, ctx, card!);
    expect(cardText).toContain('Incident 42 opened\n\nSeverity: 2\n\n[Open incident]');
    expect(cardText).not.toContain('(no text)');
    const fwdText = await contentOf(provider, ctx, docs.find((d) => d.sourceId.endsWith(forwarded.id))!);
    expect(fwdText).toContain('> Forwarded from **Chief Finance**\n> Budget approved for Q3');
    expect(fwdText).toContain('```sql\nSELECT 1;\n```');
  });

  it('a thread removed for good (no tombstone) is deleted when its channel is listed again', async () => {
    const { team, general } = channel();
    const kept = emulator.teams.post(general, { at: earlier(), html: '<p>kept</p>' });
    const purged = emulator.teams.post(general, { at: earlier(), html: '<p>retention removes me</p><img src="{{hosted:0}}">', hosted: [{ bytes: 'PNG', contentType: 'image/png' }] });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id });
    const first = await pass(provider, ctx, null);
    const purgedIds = first.changes.flatMap((c) => (c.kind === 'upsert' && c.item.sourceId.includes(purged.id) ? [c.item.sourceId] : []));
    expect(purgedIds).toHaveLength(2);

    emulator.teams.purgeThread(general, purged.id);
    emulator.teams.expireDeltaTokens(general, 410);
    const second = await pass(provider, ctx, first.cursor);
    expect(threads(second.changes).map((d) => d.sourceId)).toEqual([threads(first.changes).find((d) => d.sourceId.endsWith(kept.id))?.sourceId]);
    // The pass that listed the channel again ends by sweeping what it did not see, in that channel only.
    const last = second.pages.at(-1);
    expect(last?.enumerationComplete).toBe(true);
    expect(last?.sweepOnly).toEqual([`teams:${team.id}:${encodeURIComponent(general.id)}:`]);
    expect(purgedIds.every((id) => id.startsWith(last?.sweepOnly?.[0] ?? '-'))).toBe(true);
    expect(second.changes.some((c) => c.kind === 'upsert' && c.item.sourceId.includes(purged.id))).toBe(false);
  });
});
