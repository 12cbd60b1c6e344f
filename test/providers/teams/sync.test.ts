import { describe, expect, it } from 'vitest';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { contentOf, deletes, pass, skips, teamsContext, teamsProvider, threads, upserts, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;
useGraphEmulator((e) => (emulator = e));

const MONTH = 30 * 24 * 3600_000;
/** Posted before the sync starts, outside the overlap the first delta round re-reads. */
const earlier = () => new Date(Date.now() - 20 * 60_000);

function team() {
  const t = emulator.teams.addTeam('Contoso Launch');
  const general = emulator.teams.addChannel(t.id, 'General');
  const secret = emulator.teams.addChannel(t.id, 'Leadership', { membershipType: 'private' });
  const partners = emulator.teams.addChannel(t.id, 'Partners', { membershipType: 'shared' });
  return { t, general, secret, partners };
}

describe('Teams provider', () => {
  it('makes one Markdown document per thread in every channel, old threads included, with mentions, code and edits', async () => {
    const { t, general, secret, partners } = team();
    const old = emulator.teams.post(general, { html: '<p>Budget from last year</p>', subject: 'FY25 budget', at: new Date(Date.now() - 11 * MONTH) });
    const root = emulator.teams.post(general, {
      at: earlier(),
      html: '<p>Hi <at id="0">Bob Builder</at>, see <b>this</b>:</p><codeblock class="TypeScript"><code>const a = 1;<br>if (a &lt; 2) {}</code></codeblock>',
      mentions: [{ id: 0, mentionText: 'Bob Builder', userId: 'bob' }],
    });
    emulator.teams.reply(general, root.id, { html: '<p>Looks good</p>', author: { id: 'bob', displayName: 'Bob Builder' } });
    const edited = emulator.teams.reply(general, root.id, { html: '<p>first take</p>' });
    emulator.teams.edit(general, edited.id, '<p>second take</p>');
    const gone = emulator.teams.reply(general, root.id, { html: '<p>oops wrong thread</p>' });
    emulator.teams.deleteMessage(general, gone.id);
    emulator.teams.post(secret, { html: '<p>Reorg plans</p>', at: earlier() });
    emulator.teams.post(partners, { html: '<p>Partner kickoff</p>', at: earlier() });
    emulator.teams.post(general, { at: earlier(), messageType: 'systemEventMessage', html: '<systemEventMessage/>', author: null });

    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id, include_private_channels: true });
    const first = await pass(provider, ctx, null);

    expect(first.pages.every((p) => p.fullEnumeration)).toBe(true);
    expect(first.pages.at(-1)?.enumerationComplete).toBe(true);
    const docs = threads(first.changes);
    expect(docs.map((d) => d.name).sort()).toEqual(['FY25 budget.md', 'Hi @Bob Builder, see this:.md', 'Partner kickoff.md', 'Reorg plans.md'].sort());
    expect(docs.every((d) => d.contentType === 'text/markdown')).toBe(true);
    expect(skips(first.changes).map((s) => s.reason)).toEqual(['Teams system event (not a conversation message)']);
    // Channel ids hold ':' — source ids stay unambiguous.
    expect(new Set(docs.map((d) => d.sourceId)).size).toBe(4);
    expect(docs.find((d) => d.name.startsWith('FY25'))?.sourceId).toBe(`teams:${t.id}:${encodeURIComponent(general.id)}:${old.id}`);

    const thread = docs.find((d) => d.name.startsWith('Hi'));
    if (!thread) throw new Error('no thread');
    const text = await contentOf(provider, ctx, thread);
    expect(text).toContain('Team: Contoso Launch · Channel: General');
    expect(text).toContain('Hi @Bob Builder, see **this**:');
    expect(text).toContain('```typescript\nconst a = 1;\nif (a < 2) {}\n```');
    expect(text).toMatch(/second take/);
    expect(text).toMatch(/\(edited \d{4}-\d\d-\d\d \d\d:\d\d UTC\)/);
    expect(text).not.toContain('first take');
    expect(text).not.toContain('oops wrong thread');
    // Oldest first: Bob's answer came before the edited reply.
    expect(text.indexOf('Looks good')).toBeLessThan(text.indexOf('second take'));
    expect(Buffer.byteLength(text)).toBe(thread.size);
    const shared = docs.find((d) => d.name === 'Partner kickoff.md');
    if (!shared) throw new Error('no shared-channel thread');
    expect(await contentOf(provider, ctx, shared)).toContain('Channel: Partners (shared channel)');
  });

  it('brings back a thread whose only change is a reply, edit or deletion of a reply, and nothing else', async () => {
    const { t, general } = team();
    const old = emulator.teams.post(general, { html: '<p>Thread from months ago</p>', at: new Date(Date.now() - 10 * MONTH) });
    const other = emulator.teams.post(general, { html: '<p>Quiet thread</p>' });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id, include_files: false });
    const first = await pass(provider, ctx, null);
    const before = threads(first.changes).find((d) => d.sourceId.endsWith(old.id));

    const idle = await pass(provider, ctx, first.cursor);
    expect(idle.changes).toEqual([]);
    expect(idle.pages.some((p) => p.fullEnumeration)).toBe(false);

    const reply = emulator.teams.reply(general, old.id, { html: '<p>A late answer</p>' });
    const second = await pass(provider, ctx, idle.cursor);
    const after = threads(second.changes);
    expect(after.map((d) => d.sourceId)).toEqual([before?.sourceId]);
    expect(after[0]?.signature).not.toBe(before?.signature);
    expect(await contentOf(provider, ctx, after[0]!)).toContain('A late answer');

    emulator.teams.react(general, other.id);
    const reacted = await pass(provider, ctx, second.cursor);
    // Listed again (its chain changed), but its document would not change: same signature.
    expect(threads(reacted.changes)[0]?.signature).toBe(threads(first.changes).find((d) => d.sourceId.endsWith(other.id))?.signature);

    emulator.teams.deleteMessage(general, reply.id);
    const third = await pass(provider, ctx, reacted.cursor);
    expect(threads(third.changes)[0]?.signature).toBe(before?.signature);

    emulator.teams.deleteMessage(general, old.id);
    const fourth = await pass(provider, ctx, third.cursor);
    expect(deletes(fourth.changes)).toEqual([before?.sourceId]);
  });

  it('an inline image whose <img> declares its type is listed without a request; its bytes are fetched once, when stored', async () => {
    const { t, general } = team();
    const jpeg = Buffer.from('\xff\xd8 fake jpeg');
    const post = emulator.teams.post(general, {
      at: earlier(),
      // Teams writes the image's format as itemscope; the second image declares none.
      html: '<p>Before and after</p><p><img alt="image" src="{{hosted:0}}" itemscope="jpeg" width="250"></p><p><img alt="image" src="{{hosted:1}}"></p>',
      hosted: [
        { bytes: jpeg, contentType: 'image/jpeg' },
        { bytes: Buffer.from('\x89PNG fake'), contentType: 'image/png' },
      ],
    });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id });
    const first = await pass(provider, ctx, null);

    const images = upserts(first.changes).filter((i) => i.fetch.kind === 'hosted');
    expect(images.map((i) => [i.name.replace(/^.* image /, 'image '), i.contentType])).toEqual([
      ['image 1.jpg', 'image/jpeg'],
      ['image 2.png', 'image/png'],
    ]);
    // Only the image without a declared type was asked for its Content-Type.
    const hostedRequests = () => emulator.requests.filter((r) => r.path.includes('/hostedContents/'));
    expect(hostedRequests()).toHaveLength(1);
    expect(hostedRequests()[0]?.path).toContain(`/messages/${post.id}/hostedContents/`);

    const { body } = await provider.openContent(ctx, images[0]!);
    const { readAll } = await import('./harness.js');
    expect(await readAll(body)).toEqual(jpeg);
    expect(hostedRequests()).toHaveLength(2);
  });

  it('resolves shared files through Graph once per page, refuses links outside Microsoft 365, and stores inline images', async () => {
    const { t, general } = team();
    const folder = emulator.teams.filesFolderItem(general);
    const report = emulator.addFile(folder.id, 'report.pdf', '%PDF report', { driveId: folder.driveId });
    const url = emulator.teams.shareUrl(report);
    const png = Buffer.from('\x89PNG fake');
    emulator.teams.post(general, {
      at: earlier(),
      html: '<p>See the report <attachment id="a1"></attachment></p><p><img src="{{hosted:0}}" alt="image"></p>',
      attachments: [{ id: 'a1', contentType: 'reference', contentUrl: url, name: 'report.pdf' }],
      hosted: [{ bytes: png, contentType: 'image/png' }],
    });
    const second = emulator.teams.post(general, {
      at: earlier(),
      html: '<p>again</p>',
      attachments: [
        { id: 'a2', contentType: 'reference', contentUrl: url, name: 'report.pdf' },
        { id: 'a3', contentType: 'reference', contentUrl: 'http://127.0.0.1:9/secret', name: 'internal.pdf' },
        { id: 'a4', contentType: 'reference', contentUrl: 'http://169.254.169.254/latest/meta-data/', name: 'metadata.pdf' },
        { id: 'a5', contentType: 'application/vnd.microsoft.card.adaptive', content: '{}' },
      ],
    });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id });
    const first = await pass(provider, ctx, null);

    const files = upserts(first.changes).filter((i) => i.sourceId === report.id);
    // Shared in two messages and present in the channel folder: one source id everywhere.
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(new Set(files.map((f) => f.signature)).size).toBe(1);
    expect(emulator.requestCount(/\/shares\//)).toBe(1);
    expect(emulator.requests.some((r) => r.path.includes('127.0.0.1') || r.path.includes('169.254'))).toBe(false);
    const refused = skips(first.changes).filter((s) => s.reason.startsWith('attachment link is not a Microsoft 365 address'));
    expect(refused.map((s) => s.name).sort()).toEqual(['internal.pdf', 'metadata.pdf']);
    expect(skips(first.changes).some((s) => s.reason.startsWith('card, Loop component'))).toBe(true);

    const image = upserts(first.changes).find((i) => i.fetch.kind === 'hosted');
    expect(image?.contentType).toBe('image/png');
    expect(image?.name).toMatch(/image 1\.png$/);
    const { body } = await provider.openContent(ctx, image!);
    const { readAll } = await import('./harness.js');
    expect(await readAll(body)).toEqual(png);

    const thread = threads(first.changes).find((d) => d.sourceId.endsWith(second.id));
    const text = await contentOf(provider, ctx, thread!);
    expect(text).toContain('Attachments: [report.pdf](https://contoso.sharepoint.com/');
    const drive = upserts(first.changes).find((i) => i.sourceId === report.id);
    expect((await contentOf(provider, ctx, drive!))).toBe('%PDF report');
  });
});
