import { describe, expect, it } from 'vitest';
import { PermanentSourceError } from '../../../src/errors.js';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { deletes, failures, pass, skips, teamsContext, teamsProvider, threads, upserts, useGraphEmulator } from './harness.js';
import { createOneDriveProvider } from '../../../src/providers/microsoft-graph/onedrive/provider.js';
import { SourceMemory } from '../../../src/providers/source-memory.js';
import { connectorRow, memorySourceContext } from '../../support/memory-source-context.js';

let emulator: GraphEmulator;
useGraphEmulator((e) => (emulator = e));

const earlier = () => new Date(Date.now() - 20 * 60_000);

function team(channels: string[]) {
  const t = emulator.teams.addTeam('Contoso');
  const list = channels.map((name) => emulator.teams.addChannel(t.id, name, { withoutFilesFolder: true }));
  list.forEach((c, i) => emulator.teams.post(c, { at: earlier(), html: `<p>post ${i}</p>` }));
  return { t, list };
}

describe('Teams refusals, by what they mean', () => {
  it('a channel refused with Teams\' own 403 codes (Forbidden, UnknownError) is a failure with its reason; the other channels sync', async () => {
    const { t, list } = team(['Open', 'Locked', 'Odd']);
    list[1]!.denies = 'Forbidden';
    list[2]!.denies = 'UnknownError';
    const { changes } = await pass(teamsProvider(emulator), teamsContext({ team_id: t.id }), null);
    expect(threads(changes).map((d) => d.name)).toEqual(['post 0.md']);
    const failed = failures(changes);
    expect(failed.map((f) => f.name)).toEqual(['Locked', 'Odd']);
    expect(failed.every((f) => f.code === 'accessDenied' && f.reason.startsWith('channel this app may not read'))).toBe(true);
    expect(failed[0]?.reason).toContain('Forbidden');
    expect(failed[1]?.reason).toContain('UnknownError');
  });

  it('every channel refused ends the sync with one sentence an admin can act on, never a success with nothing', async () => {
    const { t, list } = team(['A', 'B']);
    for (const c of list) c.denies = 'protectedApi';
    const error = await pass(teamsProvider(emulator), teamsContext({ team_id: t.id }), null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentSourceError);
    expect((error as PermanentSourceError).scope).toBe('sync');
    expect((error as Error).message).toMatch(/^Microsoft Graph refuses this app the messages of every channel of team "Contoso": .*protected-API approval/);

    for (const c of list) c.denies = 'Forbidden';
    const plain = await pass(teamsProvider(emulator), teamsContext({ team_id: t.id }), null).catch((e: unknown) => e);
    expect((plain as Error).message).toMatch(/ChannelMessage\.Read\.All/);
  });

  it('a refused saved delta link (any 400) lists that channel again and counts it; a refusal of the round after a listing turns to daily listings', async () => {
    const { t, list } = team(['First', 'Second']);
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id });
    const first = await pass(provider, ctx, null);

    // "Parameter 'DeltaToken' not supported" on a saved link (msgraph-beta-sdk-dotnet#243), not syncStateNotFound.
    emulator.faults.push({ match: (r) => r.path.includes(`${list[0]!.id}/messages/delta`), status: 400, code: 'BadRequest', message: "Parameter 'DeltaToken' not supported for this request." });
    const second = await pass(provider, ctx, first.cursor);
    expect(second.cursor.channels[0]?.relists).toBe(1);
    expect(second.pages.reduce((n, p) => n + (p.relisted ?? 0), 0)).toBe(1);
    expect(second.pages.at(-1)?.sweepOnly).toEqual([`teams:${t.id}:${encodeURIComponent(list[0]!.id)}:`]);

    // Refused on every delta request: listed again, and when the round after that listing is refused too, the channel is listed daily instead.
    emulator.faults.push({ match: (r) => r.path.includes(`${list[0]!.id}/messages/delta`), status: 400, code: 'BadRequest', times: 10 });
    emulator.teams.post(list[1]!, { html: '<p>new in second</p>' });
    const third = await pass(provider, ctx, second.cursor);
    expect(third.cursor.channels[0]?.relists).toBe(2);
    expect(third.cursor.channels[0]?.periodic).toBeDefined();
    expect(failures(third.changes)).toEqual([]);
    expect(threads(third.changes).map((d) => d.name)).toContain('new in second.md');
  });

  it('a channel that fails otherwise fails alone, recorded with its reason; the next channel syncs, and the record is cleared once it reads again', async () => {
    const { t, list } = team(['First', 'Second']);
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id });
    // A listing Graph answers with something it would not send: the channel's failure, not the sync's.
    emulator.faults.push({ match: (r) => r.path.endsWith(`${list[0]!.id}/messages`), garbage: true, times: 10 });
    const first = await pass(provider, ctx, null);
    expect(failures(first.changes).map((f) => [f.name, f.sourceId])).toEqual([['First', `teams-channel:${list[0]!.id}`]]);
    expect(threads(first.changes).map((d) => d.name)).toEqual(['post 1.md']);

    emulator.faults.length = 0;
    const second = await pass(provider, ctx, first.cursor);
    expect(threads(second.changes).map((d) => d.name)).toEqual(['post 0.md']);
    expect(deletes(second.changes)).toContain(`teams-channel:${list[0]!.id}`);
  });

  it('a channel whose filtered delta Graph refuses is listed in full instead, at most once a day, swept each time', async () => {
    const { t, list } = team(['Filterless']);
    list[0]!.refusesFilter = true;
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id });
    const first = await pass(provider, ctx, null);
    expect(threads(first.changes)).toHaveLength(1);
    expect(failures(first.changes)).toEqual([]);
    expect(first.cursor.channels[0]?.periodic).toBeDefined();

    // Within the day: not read at all (no request on its messages).
    const before = emulator.requestCount(/\/messages/);
    const quiet = await pass(provider, ctx, first.cursor);
    expect(quiet.changes).toEqual([]);
    expect(emulator.requestCount(/\/messages/)).toBe(before);

    // A day later: listed in full, and what that listing misses is swept.
    const due = { ...quiet.cursor, channels: quiet.cursor.channels.map((c) => ({ ...c, periodic: { listedAt: new Date(Date.now() - 25 * 3600_000).toISOString() } })) };
    emulator.teams.post(list[0]!, { html: '<p>later post</p>' });
    const daily = await pass(provider, ctx, due);
    expect(threads(daily.changes).map((d) => d.name).sort()).toEqual(['later post.md', 'post 0.md']);
    expect(daily.pages.at(-1)?.sweepOnly).toEqual([`teams:${t.id}:${encodeURIComponent(list[0]!.id)}:`]);
    expect(daily.cursor.channels[0]?.periodic).toBeDefined();
  });

  it('an empty channel whose delta Graph refuses after its first empty page is listed daily instead, and its first post arrives then', async () => {
    const t = emulator.teams.addTeam('Contoso');
    const empty = emulator.teams.addChannel(t.id, 'Empty', { withoutFilesFolder: true });
    empty.emptyDeltaRefused = true;
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id });
    const first = await pass(provider, ctx, null);
    expect(failures(first.changes)).toEqual([]);
    expect(first.cursor.channels[0]?.periodic).toBeDefined();

    emulator.teams.post(empty, { html: '<p>finally a post</p>' });
    const due = { ...first.cursor, channels: first.cursor.channels.map((c) => ({ ...c, periodic: { listedAt: new Date(Date.now() - 25 * 3600_000).toISOString() } })) };
    const daily = await pass(provider, ctx, due);
    expect(threads(daily.changes).map((d) => d.name)).toEqual(['finally a post.md']);
    // With a post, its delta works: back to delta rounds.
    expect(daily.cursor.channels[0]?.periodic).toBeUndefined();
  });

  it('a private channel whose site is not provisioned yet (filesFolder 403 or 500) skips its files for the pass, not its messages', async () => {
    const t = emulator.teams.addTeam('Contoso');
    const fresh = emulator.teams.addChannel(t.id, 'Fresh', { membershipType: 'private' });
    emulator.teams.post(fresh, { at: earlier(), html: '<p>private hello</p>' });
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id, include_private_channels: true });
    fresh.filesFolderAnswer = 500;
    const first = await pass(provider, ctx, null);
    expect(threads(first.changes).map((d) => d.name)).toEqual(['private hello.md']);
    expect(skips(first.changes).map((s) => [s.name, s.reason.split(' (')[0]])).toEqual([['Fresh', 'channel files not readable this time']]);

    fresh.filesFolderAnswer = 403;
    const second = await pass(provider, ctx, first.cursor);
    expect(skips(second.changes)).toHaveLength(1);

    // Provisioned: its files come in.
    fresh.filesFolderAnswer = undefined;
    const folder = emulator.teams.filesFolderItem(fresh);
    emulator.addFile(folder.id, 'notes.txt', 'hi', { driveId: folder.driveId });
    const third = await pass(provider, ctx, second.cursor);
    expect(upserts(third.changes).map((i) => i.name)).toEqual(['notes.txt']);
  });
});

describe('Teams sign-in refusals', () => {
  it('an app-only connector whose fresh token Graph keeps refusing is told an administrator must grant admin consent, never to reconnect', async () => {
    const { t } = team(['General']);
    emulator.faults.push({ match: /^\/v1\.0\/teams\//, status: 401, times: 5 });
    const error: unknown = await teamsProvider(emulator).listChanges(teamsContext({ team_id: t.id }), null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentSourceError);
    expect(error).toMatchObject({ scope: 'sync', message: expect.stringContaining(`grant admin consent to app ${emulator.settings.clientId}`) });
    expect((error as Error).message).not.toContain('reconnect');
  });
});

describe('Teams throttling', () => {
  it('a Teams 429 pauses the Teams calls of the tenant, not its OneDrive connectors', async () => {
    const memory = new SourceMemory();
    const { t } = team(['Busy']);
    emulator.addFile(emulator.drive.rootId, 'a.txt', 'a');
    // Longer than the HTTP layer waits in place: the wait is handed over, and the pause stays.
    emulator.faults.push({ match: /\/messages$/, status: 429, code: 'TooManyRequests', retryAfter: '120' });
    const teamsCtx = memorySourceContext(connectorRow({ id: 9101, type: 'teams', config: { team_id: t.id } }), { memory });
    await expect(teamsProvider(emulator).listChanges(teamsCtx, null)).rejects.toThrow(/paused|429/);
    const tenant = emulator.settings.tenantId;
    expect(memory.pauses.pausedFor(`teams:${tenant}`)).toBeGreaterThan(60_000);
    expect(memory.pauses.pausedFor(`graph:${tenant}`)).toBe(0);

    const driveCtx = memorySourceContext(connectorRow({ id: 9102, type: 'onedrive', config: { drive_id: emulator.drive.id } }), { memory });
    const page = await createOneDriveProvider(emulator.settings).listChanges(driveCtx, null);
    expect(page.changes.length).toBeGreaterThan(0);
  });
});
