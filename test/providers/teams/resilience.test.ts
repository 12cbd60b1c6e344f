import { describe, expect, it } from 'vitest';
import { ItemGoneError, PermanentSourceError } from '../../../src/errors.js';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { deletes, pass, teamsContext, teamsProvider, threads, upserts, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;
useGraphEmulator((e) => (emulator = e));

const earlier = () => new Date(Date.now() - 20 * 60_000);

describe('Teams provider: scope, expiry and refusals', () => {
  it('validates the config before any request, naming the key', () => {
    const provider = teamsProvider(emulator);
    expect(() => provider.validateConfig({})).toThrow('connector config "team_id" is missing');
    expect(() => provider.validateConfig({ team_id: 't', client_secret: 'shh' })).toThrow(PermanentSourceError);
    expect(() => provider.validateConfig({ team_id: 't' })).not.toThrow();
  });

  it('a team or channel list Graph does not know is a config error, not a crash', async () => {
    const provider = teamsProvider(emulator);
    await expect(provider.listChanges(teamsContext({ team_id: 'no-such-team' }), null)).rejects.toThrow('connector config "team_id" names no team');
    const team = emulator.teams.addTeam('T');
    emulator.teams.addChannel(team.id, 'General');
    await expect(provider.listChanges(teamsContext({ team_id: team.id, channel_ids: ['19:nope@thread.tacv2'] }), null)).rejects.toThrow('"channel_ids" names no channel');
  });

  it('reads every page of a paged channel list', async () => {
    const team = emulator.teams.addTeam('T');
    for (const name of ['A', 'B', 'C']) emulator.teams.post(emulator.teams.addChannel(team.id, name, { withoutFilesFolder: true }), { at: earlier(), html: `<p>in ${name}</p>` });
    emulator.channelsPerPage = 2;
    const { changes } = await pass(teamsProvider(emulator), teamsContext({ team_id: team.id }), null);
    expect(threads(changes).map((t) => t.name).sort()).toEqual(['in A.md', 'in B.md', 'in C.md']);
    expect(emulator.requests.filter((r) => r.path.endsWith('/channels')).length).toBeGreaterThanOrEqual(2);
  });

  it('syncs only the configured channels', async () => {
    const team = emulator.teams.addTeam('T');
    const a = emulator.teams.addChannel(team.id, 'A');
    const b = emulator.teams.addChannel(team.id, 'B');
    emulator.teams.post(a, { at: earlier(), html: '<p>in A</p>' });
    emulator.teams.post(b, { at: earlier(), html: '<p>in B</p>' });
    const provider = teamsProvider(emulator);
    const { changes } = await pass(provider, teamsContext({ team_id: team.id, channel_ids: a.id, include_files: false }), null);
    expect(threads(changes).map((t) => t.name)).toEqual(['in A.md']);
  });

  it('an expired delta token (410, or 400 syncStateNotFound) lists that channel again and deletes threads gone meanwhile', async () => {
    const team = emulator.teams.addTeam('T');
    const a = emulator.teams.addChannel(team.id, 'A');
    const b = emulator.teams.addChannel(team.id, 'B');
    const keep = emulator.teams.post(a, { at: earlier(), html: '<p>keep</p>' });
    const lost = emulator.teams.post(b, { at: earlier(), html: '<p>lost</p>' });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id, include_files: false });
    const first = await pass(provider, ctx, null);

    emulator.teams.expireDeltaTokens(a, 410);
    emulator.teams.expireDeltaTokens(b, 400);
    emulator.teams.deleteMessage(b, lost.id);
    const second = await pass(provider, ctx, first.cursor);
    expect(threads(second.changes).map((t) => t.sourceId)).toEqual([threads(first.changes).find((t) => t.sourceId.endsWith(keep.id))?.sourceId]);
    expect(deletes(second.changes)).toEqual([threads(first.changes).find((t) => t.sourceId.endsWith(lost.id))?.sourceId]);
    // Both channels were listed again: the pass sweeps within them only, nothing else of the connector.
    expect(second.pages.at(-1)?.enumerationComplete).toBe(true);
    expect(second.pages.at(-1)?.sweepOnly?.sort()).toEqual([a.id, b.id].map((c) => `teams:${team.id}:${encodeURIComponent(c)}:`).sort());
  });

  it('channel files: new, changed and deleted files of each channel folder, through the OneDrive code', async () => {
    const team = emulator.teams.addTeam('T');
    const general = emulator.teams.addChannel(team.id, 'General');
    const secret = emulator.teams.addChannel(team.id, 'Secret', { membershipType: 'private' });
    emulator.teams.addChannel(team.id, 'No files yet', { withoutFilesFolder: true });
    const g = emulator.teams.filesFolderItem(general);
    const s = emulator.teams.filesFolderItem(secret);
    const notes = emulator.addFile(g.id, 'notes.md', '# notes', { driveId: g.driveId });
    const plan = emulator.addFile(s.id, 'plan.pdf', '%PDF', { driveId: s.driveId });
    // A file of the team library outside any channel folder is not in scope.
    emulator.addFile(emulator.store.drives.get(g.driveId)!.rootId, 'elsewhere.txt', 'x', { driveId: g.driveId });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id, include_private_channels: true });
    const first = await pass(provider, ctx, null);
    expect(upserts(first.changes).map((i) => i.name).sort()).toEqual(['notes.md', 'plan.pdf']);

    emulator.updateFile(notes.id, '# notes v2');
    emulator.delete(plan.id);
    const second = await pass(provider, ctx, first.cursor);
    expect(upserts(second.changes).map((i) => i.name)).toEqual(['notes.md']);
    expect(deletes(second.changes)).toEqual([plan.id]);
  });

  it('a thread deleted between listing and transfer is reported gone, not failed', async () => {
    const team = emulator.teams.addTeam('T');
    const general = emulator.teams.addChannel(team.id, 'General', { withoutFilesFolder: true });
    const root = emulator.teams.post(general, { at: earlier(), html: '<p>soon gone</p>', hosted: [{ bytes: 'PNG', contentType: 'image/png' }] });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: team.id });
    const { changes } = await pass(provider, ctx, null);
    const [thread] = threads(changes);
    emulator.teams.deleteMessage(general, root.id);
    await expect(provider.openContent(ctx, thread!)).rejects.toBeInstanceOf(ItemGoneError);
    await expect(provider.openContent(ctx, { ...thread!, fetch: { kind: 'thread' } })).rejects.toThrow(PermanentSourceError);
  });

  it('a connector pointed at another team starts a full enumeration', async () => {
    const team = emulator.teams.addTeam('T');
    emulator.teams.post(emulator.teams.addChannel(team.id, 'A', { withoutFilesFolder: true }), { at: earlier(), html: '<p>a</p>' });
    const provider = teamsProvider(emulator);
    const first = await pass(provider, teamsContext({ team_id: team.id }), null);
    const other = emulator.teams.addTeam('Other');
    await expect(provider.listChanges(teamsContext({ team_id: other.id }), first.cursor)).rejects.toThrow(/another team/);
  });
});
