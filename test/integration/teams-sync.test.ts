import type { SyncResult } from '../../workflows/definitions.js';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { ConnectorScope, ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { RunningService } from '../../src/service.js';
import type { GraphEmulator, StoredChannel, StoredTeam } from '../emulators/graph/index.js';
import { createConnector, waitFor } from '../support/integration.js';
import { connectorRowOf, documentsOf, spawnWorker, syncViaNats as syncViaNatsAndWait } from '../support/service-harness.js';
import { serviceSuite, type DocumentReader } from '../support/service-suite.js';

/**
 * Teams end to end: a protobuf request on connector.sync.teams, the real
 * worker, PostgreSQL, NATS, the S3 gateway, and the Graph emulator's Teams.
 */

let emulator: GraphEmulator;
let config: Config;
let service: RunningService;
let reader: DocumentReader;
let userId: number;

const MONTH = 30 * 24 * 3600_000;
/** Posted before the sync, outside the few minutes the first delta round re-reads. */
const earlier = (minutesAgo = 20) => new Date(Date.now() - minutesAgo * 60_000);

serviceSuite({ graph: true, readerDrainMs: 1000 }, (suite) => ({ graph: emulator, config, service, reader, userId } = suite));

const documents = (connectorId: number) => documentsOf(service, connectorId);
const live = async (connectorId: number) => (await documents(connectorId)).filter((d) => d.status !== 'deleted');
const threadId = (team: StoredTeam, channel: StoredChannel, rootId: string) => `teams:${team.id}:${encodeURIComponent(channel.id)}:${rootId}`;

function syncViaNats(connectorId: number, chunkingSession = 'session-1') {
  return syncViaNatsAndWait(service, 'connector.sync.teams', { connectorId, type: ConnectorType.TEAMS, userId, chunkingSession });
}

async function teamsConnector(teamId: string, extra: Record<string, unknown> = {}, fields: { scope?: string; teamId?: number | null } = {}) {
  return createConnector(service.db, { type: 'teams', config: { team_id: teamId, ...extra }, userId, ...fields });
}

function launchTeam() {
  const team = emulator.teams.addTeam('Launch');
  const general = emulator.teams.addChannel(team.id, 'General');
  const leadership = emulator.teams.addChannel(team.id, 'Leadership', { membershipType: 'private' });
  const partners = emulator.teams.addChannel(team.id, 'Partners', { membershipType: 'shared' });
  return { team, general, leadership, partners };
}

describe('Teams sync end to end', () => {
  it('first sync: one document per thread in standard, private and shared channels, shared files once, internal links refused', async () => {
    const { team, general, leadership, partners } = launchTeam();
    const folder = emulator.teams.filesFolderItem(general);
    const plan = emulator.addFile(folder.id, 'plan.pdf', '%PDF launch plan', { driveId: folder.driveId });
    const url = emulator.teams.shareUrl(plan);
    const kickoff = emulator.teams.post(general, {
      at: earlier(),
      subject: 'Kickoff',
      html: '<p>Plan attached <attachment id="a1"></attachment></p>',
      attachments: [{ id: 'a1', contentType: 'reference', contentUrl: url, name: 'plan.pdf' }],
    });
    emulator.teams.reply(general, kickoff.id, { at: earlier(), html: '<p>Thanks <at id="0">Alice Example</at></p>' });
    emulator.teams.post(general, {
      at: earlier(),
      html: '<p>Same plan again, and two links that must never be fetched</p>',
      attachments: [
        { id: 'a2', contentType: 'reference', contentUrl: url, name: 'plan.pdf' },
        { id: 'a3', contentType: 'reference', contentUrl: 'http://127.0.0.1:1/admin', name: 'internal.pdf' },
        { id: 'a4', contentType: 'reference', contentUrl: 'http://169.254.169.254/latest/meta-data/iam/', name: 'metadata.pdf' },
      ],
    });
    emulator.teams.post(leadership, { at: earlier(), html: '<p>Private budget talk</p>' });
    emulator.teams.post(partners, { at: earlier(), html: '<p>Shared with Fabrikam</p>' });
    emulator.teams.post(general, { at: new Date(Date.now() - 12 * MONTH), subject: 'Old news', html: '<p>From last year</p>' });
    const group = await service.db.insertInto('teams').values({ name: 'launch' }).returning('id').executeTakeFirstOrThrow();
    const connectorId = await teamsConnector(team.id, { include_private_channels: true }, { scope: 'team', teamId: group.id });

    const row = await syncViaNats(connectorId, 'chunk-teams');

    expect(row.status).toBe('active');
    // plan.pdf is seen three times (channel files, two messages): stored once (later pages, if any, find it unchanged).
    expect(row.status_message).toMatch(/^6 new, 0 updated, 0 deleted, (\d+ unchanged, )?2 skipped: attachment link is not a Microsoft 365 address \(refused, never fetched\), 0 failed$/);
    const docs = await documents(connectorId);
    expect(docs.map((d) => d.title).sort()).toEqual(['Old news.md', 'Kickoff.md', 'Private budget talk.md', 'Same plan again, and two links that must never be.md', 'Shared with Fabrikam.md', 'plan.pdf'].sort());
    const kickoffDoc = docs.find((d) => d.source_id === threadId(team, general, kickoff.id));
    expect(kickoffDoc?.content_type).toBe('text/markdown');
    const text = (await service.store.read(kickoffDoc?.url ?? '')).toString();
    expect(text).toContain('# Kickoff');
    expect(text).toContain('Thanks @Alice Example');
    expect(text).toContain('Attachments: [plan.pdf](https://contoso.sharepoint.com/');
    const planDoc = docs.find((d) => d.source_id === plan.id);
    expect((await service.store.read(planDoc?.url ?? '')).toString()).toBe('%PDF launch plan');
    expect(emulator.requests.some((r) => /127\.0\.0\.1:1|169\.254/.test(r.path + r.search))).toBe(false);

    const messages = await reader.drain();
    expect(messages).toHaveLength(6);
    for (const { request } of messages) {
      expect(request).toMatchObject({ connectorId, userId, chunkingSession: 'chunk-teams', scope: ConnectorScope.GROUP, teamId: group.id });
    }
    expect(emulator.authorizationLeaks).toBe(0);

    // Nothing changed: nothing downloaded, rendered for storage or published.
    const again = await syncViaNats(connectorId);
    expect(again.status).toBe('active');
    expect(again.status_message).toBe('0 new, 0 updated, 0 deleted, 0 failed');
    expect(await reader.drain()).toHaveLength(0);
  }, 120_000);

  it('an edited thread, a reply to a thread from months ago and a deleted reply update their documents; a deleted root deletes its own', async () => {
    const { team, general } = launchTeam();
    const edited = emulator.teams.post(general, { at: earlier(), html: '<p>Draft agenda</p>' });
    const old = emulator.teams.post(general, { at: new Date(Date.now() - 10 * MONTH), subject: 'Archive', html: '<p>Old thread</p>' });
    const withReply = emulator.teams.post(general, { at: earlier(), subject: 'Questions', html: '<p>Any questions?</p>' });
    const regret = emulator.teams.reply(general, withReply.id, { at: earlier(), html: '<p>I regret this reply</p>' });
    const doomed = emulator.teams.post(general, { at: earlier(), subject: 'Doomed', html: '<p>Delete me</p>' });
    const connectorId = await teamsConnector(team.id, { include_files: false });
    await syncViaNats(connectorId);
    await reader.drain();
    const before = new Map((await documents(connectorId)).map((d) => [d.source_id, d]));

    emulator.teams.edit(general, edited.id, '<p>Final agenda</p>');
    emulator.teams.reply(general, old.id, { html: '<p>Reviving this</p>' });
    emulator.teams.deleteMessage(general, regret.id);
    emulator.teams.deleteMessage(general, doomed.id);
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 3 updated, 1 deleted, 0 failed');
    const after = new Map((await documents(connectorId)).map((d) => [d.source_id, d]));
    const read = async (rootId: string) => (await service.store.read(after.get(threadId(team, general, rootId))?.url ?? '')).toString();
    expect(await read(edited.id)).toMatch(/Final agenda[\s\S]*\(edited|\(edited[\s\S]*Final agenda/);
    expect(await read(old.id)).toContain('Reviving this');
    expect(await read(withReply.id)).not.toContain('I regret this reply');
    const doomedRow = after.get(threadId(team, general, doomed.id));
    expect(doomedRow?.status).toBe('deleted');
    expect(await service.store.exists(before.get(threadId(team, general, doomed.id))?.url ?? '')).toBe(false);
    expect(await reader.drain()).toHaveLength(3);
  }, 120_000);

  it('a deleted channel deletes its own threads and files, nothing else is read again; a new channel is picked up', async () => {
    const { team, general } = launchTeam();
    const doomed = emulator.teams.addChannel(team.id, 'Retired');
    emulator.teams.post(general, { at: earlier(), html: '<p>Stays</p>' });
    emulator.teams.post(doomed, { at: earlier(), html: '<p>Goes with the channel</p>' });
    const gf = emulator.teams.filesFolderItem(general);
    const df = emulator.teams.filesFolderItem(doomed);
    emulator.addFile(gf.id, 'stays.txt', 'general notes', { driveId: gf.driveId });
    emulator.addFile(emulator.addFolder(df.id, 'Archive').id, 'goes.txt', 'retired notes', { driveId: df.driveId });
    const connectorId = await teamsConnector(team.id);
    await syncViaNats(connectorId);
    await reader.drain();
    const before = new Map((await live(connectorId)).map((d) => [d.title, d]));
    expect([...before.keys()].sort()).toEqual(['Goes with the channel.md', 'Stays.md', 'goes.txt', 'stays.txt']);

    emulator.teams.deleteChannel(team.id, doomed.id);
    const fresh = emulator.teams.addChannel(team.id, 'Newcomers');
    emulator.teams.post(fresh, { at: earlier(), html: '<p>Hello from a new channel</p>' });
    const listings = emulator.requests.length;
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    // Nothing of General was listed again (no "unchanged"): the gone channel's documents were found by its folder and its thread ids.
    expect(row.status_message).toMatch(/^1 new, 0 updated, 2 deleted, 0 failed/);
    expect((await live(connectorId)).map((d) => d.title).sort()).toEqual(['Hello from a new channel.md', 'Stays.md', 'stays.txt']);
    for (const title of ['Goes with the channel.md', 'goes.txt']) expect(await service.store.exists(before.get(title)?.url ?? '')).toBe(false);
    expect(emulator.requests.slice(listings).some((r) => r.path.endsWith(`/channels/${general.id}/messages`))).toBe(false);
  }, 120_000);

  it('the channel files\' periodic full enumeration deletes a file whose tombstone never came and one moved out of every channel folder, downloads nothing unchanged, and says so', async () => {
    const { team, general } = launchTeam();
    emulator.teams.post(general, { at: earlier(), html: '<p>Weekly notes</p>' });
    const folder = emulator.teams.filesFolderItem(general);
    const keep = emulator.addFile(folder.id, 'keep.txt', 'keep', { driveId: folder.driveId });
    const lost = emulator.addFile(folder.id, 'lost.txt', 'lost', { driveId: folder.driveId });
    const moved = emulator.addFile(folder.id, 'moved.txt', 'moved', { driveId: folder.driveId });
    const connectorId = await teamsConnector(team.id, { full_enumeration_days: 1 });
    await syncViaNats(connectorId);
    await reader.drain();
    const keepDownloads = emulator.downloads(keep.id);

    emulator.store.loseTombstone(lost.id);
    // Out of the channel's folder, to the library's root: in no synced channel's folder, so ignored by the delta.
    emulator.move(moved.id, folder.parentId ?? '');
    let row = await syncViaNats(connectorId);
    expect(row.status_message).toBe('0 new, 0 updated, 0 deleted, 0 failed');

    // Days later (the saved cursor's last full enumeration moved back two days).
    await sql`update connectors set state = jsonb_set(state, '{cursor,enumeratedAt}', to_jsonb(${new Date(Date.now() - 2 * 86_400_000).toISOString()}::text)) where id = ${connectorId}`.execute(service.db);
    row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toBe('0 new, 0 updated, 2 deleted, 2 unchanged, 0 failed, periodic full enumeration');
    const docs = new Map((await documents(connectorId)).map((d) => [d.source_id, d.status]));
    expect([docs.get(keep.id), docs.get(lost.id), docs.get(moved.id)]).toEqual(['pending', 'deleted', 'deleted']);
    expect(emulator.downloads(keep.id)).toBe(keepDownloads);
    expect(await reader.drain()).toHaveLength(0);
  }, 120_000);

  it('an expired delta token (410 or 400 syncStateNotFound) lists the channel again; throttling is waited out', async () => {
    const { team, general, leadership } = launchTeam();
    const keep = emulator.teams.post(general, { at: earlier(), html: '<p>Keep me</p>' });
    const lost = emulator.teams.post(leadership, { at: earlier(), html: '<p>Lost while the token was dead</p>' });
    const connectorId = await teamsConnector(team.id, { include_files: false, include_private_channels: true });
    await syncViaNats(connectorId);
    await reader.drain();

    emulator.teams.expireDeltaTokens(general, 410);
    emulator.teams.expireDeltaTokens(leadership, 400);
    emulator.teams.deleteMessage(leadership, lost.id);
    emulator.teams.post(general, { html: '<p>New while the token was dead</p>' });
    emulator.faults.push({ match: /\/messages\/delta$/, status: 429, retryAfter: '1' });
    emulator.faults.push({ match: /\/messages$/, status: 503, retryAfter: '1' });
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    // Both channels listed again, counted where operators read it.
    expect(row.status_message).toMatch(/^1 new, 0 updated, 1 deleted, \d+ unchanged, 0 failed, 2 listed again after an expired cursor$/);
    expect(emulator.faults.every((f) => f.hits === 1)).toBe(true);
    const docs = new Map((await documents(connectorId)).map((d) => [d.source_id, d.status]));
    expect(docs.get(threadId(team, general, keep.id))).toBe('pending');
    expect(docs.get(threadId(team, leadership, lost.id))).toBe('deleted');
  }, 120_000);

  it('threads read as Teams shows them: replies oldest first, card and forwarded text, a deleted root keeps its replies, a thread removed for good is swept', async () => {
    const { team, general } = launchTeam();
    const question = emulator.teams.post(general, { at: earlier(30), subject: 'Which database?', html: '<p>Postgres or MySQL?</p>' });
    emulator.teams.reply(general, question.id, { at: earlier(25), html: '<p>first answer: Postgres</p>' });
    emulator.teams.reply(general, question.id, { at: earlier(24), html: '<p>second answer: agreed</p>' });
    // A Workflows post: an adaptive card and nothing else (chatMessageAttachment reference: the text is in `content`).
    const alert = emulator.teams.post(general, {
      at: earlier(),
      author: null,
      html: '<attachment id="c1"></attachment>',
      attachments: [
        {
          id: 'c1',
          contentType: 'application/vnd.microsoft.card.adaptive',
          content: JSON.stringify({ type: 'AdaptiveCard', body: [{ type: 'TextBlock', text: 'Disk almost full on db-7' }, { type: 'FactSet', facts: [{ title: 'Usage', value: '93%' }] }] }),
        },
      ],
    });
    const forward = emulator.teams.post(general, {
      at: earlier(),
      html: '<attachment id="f1"></attachment>',
      attachments: [{ id: 'f1', contentType: 'forwardedMessageReference', content: JSON.stringify({ messagePreview: 'Offsite moved to May', messageSender: { user: { displayName: 'Dana Lead' } } }) }],
    });
    const purged = emulator.teams.post(general, { at: earlier(), html: '<p>Removed by retention</p>' });
    const connectorId = await teamsConnector(team.id, { include_files: false });
    const first = await syncViaNats(connectorId);
    expect(first.status_message).toBe('4 new, 0 updated, 0 deleted, 0 failed');
    await reader.drain();
    const read = async (rootId: string) => {
      const doc = (await documents(connectorId)).find((d) => d.source_id === threadId(team, general, rootId));
      return { status: doc?.status, text: doc?.status === 'deleted' ? '' : (await service.store.read(doc?.url ?? '')).toString() };
    };
    const thread = (await read(question.id)).text;
    expect(thread.indexOf('Postgres or MySQL?')).toBeLessThan(thread.indexOf('first answer'));
    expect(thread.indexOf('first answer')).toBeLessThan(thread.indexOf('second answer'));
    expect((await read(alert.id)).text).toContain('Disk almost full on db-7\n\nUsage: 93%');
    expect((await read(alert.id)).text).not.toContain('(no text)');
    expect((await read(forward.id)).text).toContain('> Forwarded from **Dana Lead**\n> Offsite moved to May');

    emulator.teams.deleteMessage(general, question.id);
    emulator.teams.purgeThread(general, purged.id);
    emulator.teams.expireDeltaTokens(general, 410);
    const second = await syncViaNats(connectorId);
    expect(second.status).toBe('active');
    // The question's document is rewritten without it; the purged thread is swept by the channel's relisting.
    expect(second.status_message).toMatch(/^0 new, 1 updated, 1 deleted, \d+ unchanged, 0 failed, 1 listed again after an expired cursor$/);
    const kept = await read(question.id);
    expect(kept.status).not.toBe('deleted');
    expect(kept.text).toContain('(original message deleted)');
    expect(kept.text).not.toContain('Postgres or MySQL?');
    expect(kept.text).toContain('second answer: agreed');
    expect((await read(purged.id)).status).toBe('deleted');
    expect((await read(alert.id)).status).not.toBe('deleted');
  }, 120_000);

  it('private and shared channels are synced only when asked for; turning them off deletes their documents on the next sync', async () => {
    const { team, general, leadership, partners } = launchTeam();
    emulator.teams.post(general, { at: earlier(), html: '<p>For the whole team</p>' });
    emulator.teams.post(leadership, { at: earlier(), html: '<p>Leadership only</p>' });
    emulator.teams.post(partners, { at: earlier(), html: '<p>Partners only</p>' });

    const standardOnly = await teamsConnector(team.id, { include_files: false });
    await syncViaNats(standardOnly);
    expect((await live(standardOnly)).map((d) => d.title)).toEqual(['For the whole team.md']);
    const named = await teamsConnector(team.id, { include_files: false, channel_ids: [leadership.id] });
    await syncViaNats(named);
    expect((await live(named)).map((d) => d.title)).toEqual(['Leadership only.md']);

    // A connector that synced every channel before the rule: its next sync without the opt-in deletes and counts them.
    const existing = await teamsConnector(team.id, { include_files: false, include_private_channels: true });
    await syncViaNats(existing);
    expect((await live(existing))).toHaveLength(3);
    await service.db.updateTable('connectors').set({ config: JSON.stringify({ team_id: team.id, include_files: false }) }).where('id', '=', existing).execute();
    const row = await syncViaNats(existing);
    expect(row.status).toBe('active');
    expect(row.status_message).toMatch(/^0 new, 0 updated, 2 deleted, /);
    expect((await live(existing)).map((d) => d.title)).toEqual(['For the whole team.md']);
    await reader.drain();
  }, 180_000);

  it('one refused channel is a failure with its reason, the rest syncs; every channel refused ends in error with a sentence an admin can act on', async () => {
    const { team, general } = launchTeam();
    const locked = emulator.teams.addChannel(team.id, 'Locked');
    emulator.teams.post(general, { at: earlier(), html: '<p>Readable</p>' });
    emulator.teams.post(locked, { at: earlier(), html: '<p>Not for this app</p>' });
    // Teams' own 403 code, not SharePoint's accessDenied (microsoft-graph-docs#6318).
    locked.denies = 'Forbidden';
    const connectorId = await teamsConnector(team.id, { include_files: false });
    const row = await syncViaNats(connectorId);
    expect(row.status).toBe('active');
    expect(row.status_message).toMatch(/^1 new, 0 updated, 0 deleted, 1 failed \(Locked; retried by later syncs/);
    expect((await live(connectorId)).map((d) => d.title)).toEqual(['Readable.md']);
    await reader.drain();

    const closed = emulator.teams.addTeam('Closed');
    for (const name of ['One', 'Two']) {
      const channel = emulator.teams.addChannel(closed.id, name, { withoutFilesFolder: true });
      emulator.teams.post(channel, { at: earlier(), html: `<p>${name}</p>` });
      channel.denies = 'protectedApi';
    }
    const refused = await teamsConnector(closed.id);
    const failed = await syncViaNats(refused);
    expect(failed.status).toBe('error');
    expect(failed.status_message).toMatch(/Microsoft Graph refuses this app the messages of every channel of team "Closed": .*protected-API approval/);
    expect(await documents(refused)).toEqual([]);
  }, 120_000);

  it('stays under the Teams request budgets: the emulator enforcing them never throttles a sync', async () => {
    const team = emulator.teams.addTeam('Busy');
    for (let c = 0; c < 3; c++) {
      const channel = emulator.teams.addChannel(team.id, `Channel ${c}`);
      for (let i = 0; i < 8; i++) {
        const root = emulator.teams.post(channel, { at: earlier(), html: `<p>Topic ${c}-${i}</p>` });
        emulator.teams.reply(channel, root.id, { at: earlier(), html: '<p>ok</p>' });
      }
    }
    emulator.teamsLimits.enforce = true;
    const connectorId = await teamsConnector(team.id, { page_size: 5 });
    const row = await syncViaNats(connectorId);
    expect(row.status).toBe('active');
    expect(row.docs_analyzed).toBe('24');
    expect(emulator.teamsLimits.throttled).toBe(0);
  }, 120_000);

  it('a worker killed mid-sync and restarted reaches the same final state with no duplicate messages', async () => {
    const team = emulator.teams.addTeam('Kill');
    const count = 60;
    for (let c = 0; c < 2; c++) {
      const channel = emulator.teams.addChannel(team.id, `Room ${c}`);
      for (let i = 0; i < count / 2; i++) emulator.teams.post(channel, { at: earlier(), html: `<p>Message ${c}-${i} ${'words '.repeat(50)}</p>` });
    }
    const connectorId = await teamsConnector(team.id, { include_files: false, page_size: 5 });
    const queue = `${config.temporal.taskQueue}-teams-kill`;
    const isolated = { ...config, temporal: { ...config.temporal, taskQueue: queue } };
    let worker = spawnWorker(isolated);
    const handle = await service.temporal.workflow.start('syncConnector', { taskQueue: queue, workflowId: `connector-sync-${connectorId}`, args: [{ connectorId }] });
    await waitFor('some threads stored', async () => (await documents(connectorId)).length >= 10 || undefined, 90_000, 50).catch((e: unknown) => {
      throw new Error(`${String(e)}\nworker output:\n${worker.output().slice(-3000)}`);
    });
    await worker.kill();
    expect((await documents(connectorId)).length).toBeLessThan(count);

    worker = spawnWorker(isolated);
    try {
      expect(((await handle.result()) as SyncResult).outcome).toBe('synced');
    } finally {
      await worker.terminate();
    }
    expect((await connectorRowOf(service, connectorId)).status).toBe('active');
    const docs = await documents(connectorId);
    expect(docs).toHaveLength(count);
    const perDocument = new Map<number, number>();
    for (const m of await reader.drain(1000)) perDocument.set(m.request.documentId, (perDocument.get(m.request.documentId) ?? 0) + 1);
    expect(perDocument.size).toBe(count);
    expect([...perDocument.values()].every((n) => n === 1)).toBe(true);
  }, 300_000);
});
