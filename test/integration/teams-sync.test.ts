import type { SyncResult } from '../../workflows/definitions.js';
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
const earlier = () => new Date(Date.now() - 20 * 60_000);

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
    const connectorId = await teamsConnector(team.id, {}, { scope: 'team', teamId: group.id });

    const row = await syncViaNats(connectorId, 'chunk-teams');

    expect(row.status).toBe('active');
    // plan.pdf is seen three times (channel files, two messages): stored once (later pages, if any, find it unchanged).
    expect(row.status_message).toMatch(/^6 new, 0 updated, 0 deleted, (\d+ unchanged, )?2 skipped \(2 attachment link is not a Microsoft 365 address \(refused, never fetched\)\), 0 failed$/);
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

  it('a deleted channel deletes its documents; a new channel is picked up', async () => {
    const { team, general, leadership } = launchTeam();
    emulator.teams.post(general, { at: earlier(), html: '<p>Stays</p>' });
    emulator.teams.post(leadership, { at: earlier(), html: '<p>Goes with the channel</p>' });
    const connectorId = await teamsConnector(team.id, { include_files: false });
    await syncViaNats(connectorId);
    await reader.drain();

    emulator.teams.deleteChannel(team.id, leadership.id);
    const fresh = emulator.teams.addChannel(team.id, 'Newcomers');
    emulator.teams.post(fresh, { at: earlier(), html: '<p>Hello from a new channel</p>' });
    const row = await syncViaNats(connectorId);

    expect(row.status).toBe('active');
    expect(row.status_message).toMatch(/^1 new, 0 updated, 1 deleted, 1 unchanged, 0 failed/);
    expect((await live(connectorId)).map((d) => d.title).sort()).toEqual(['Hello from a new channel.md', 'Stays.md']);
  }, 120_000);

  it('an expired delta token (410 or 400 syncStateNotFound) lists the channel again; throttling is waited out', async () => {
    const { team, general, leadership } = launchTeam();
    const keep = emulator.teams.post(general, { at: earlier(), html: '<p>Keep me</p>' });
    const lost = emulator.teams.post(leadership, { at: earlier(), html: '<p>Lost while the token was dead</p>' });
    const connectorId = await teamsConnector(team.id, { include_files: false });
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
    expect(row.status_message).toMatch(/^1 new, 0 updated, 1 deleted, \d+ unchanged, 0 failed/);
    expect(emulator.faults.every((f) => f.hits === 1)).toBe(true);
    const docs = new Map((await documents(connectorId)).map((d) => [d.source_id, d.status]));
    expect(docs.get(threadId(team, general, keep.id))).toBe('pending');
    expect(docs.get(threadId(team, leadership, lost.id))).toBe('deleted');
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
