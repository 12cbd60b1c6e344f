import { describe, expect, it } from 'vitest';
import { CursorExpiredError, EnumerationDueError } from '../../../src/errors.js';
import type { TeamsCursor } from '../../../src/providers/microsoft-graph/teams/cursor.js';
import { threadSourceId } from '../../../src/providers/microsoft-graph/teams/mapping.js';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { deletes, pass, teamsContext, teamsProvider, threads, upserts, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;
useGraphEmulator((e) => (emulator = e));

const earlier = () => new Date(Date.now() - 20 * 60_000);
const fileNames = (changes: Parameters<typeof upserts>[0]) => upserts(changes).filter((i) => i.fetch.kind !== 'thread' && i.fetch.kind !== 'hosted').map((i) => i.name).sort();
/** Drive delta requests on one drive (the walk of a library). */
const driveDeltas = (driveId: string) => emulator.requests.filter((r) => r.path === `/v1.0/drives/${driveId}/root/delta`).length;

/** A team with two standard channels (files in the team library, one in a subfolder), a private channel (its own site) and a loose file in the library. */
function team() {
  const t = emulator.teams.addTeam('Contoso');
  const a = emulator.teams.addChannel(t.id, 'Alpha');
  const b = emulator.teams.addChannel(t.id, 'Beta');
  const p = emulator.teams.addChannel(t.id, 'Leadership', { membershipType: 'private' });
  const fa = emulator.teams.filesFolderItem(a);
  const fb = emulator.teams.filesFolderItem(b);
  const fp = emulator.teams.filesFolderItem(p);
  const alpha = emulator.addFile(fa.id, 'alpha.txt', 'alpha', { driveId: fa.driveId });
  const beta = emulator.addFile(fb.id, 'beta.txt', 'beta', { driveId: fb.driveId });
  const sub = emulator.addFolder(fb.id, 'Specs');
  const spec = emulator.addFile(sub.id, 'spec.txt', 'spec', { driveId: fb.driveId });
  const plan = emulator.addFile(fp.id, 'plan.txt', 'plan', { driveId: fp.driveId });
  // In the team library but in no channel's folder (the library's root).
  const loose = emulator.addFile(fa.parentId ?? '', 'loose.txt', 'loose', { driveId: fa.driveId });
  for (const c of [a, b, p]) emulator.teams.post(c, { at: earlier(), html: `<p>hello ${c.displayName}</p>` });
  return { t, a, b, p, library: fa.driveId, privateDrive: fp.driveId, files: { alpha, beta, spec, plan, loose } };
}

describe('Teams channel files: one delta per drive', () => {
  it('walks the team library once for every standard channel, a private channel\'s site on its own, and ignores what lies in no channel\'s folder', async () => {
    const { t, library, privateDrive, files } = team();
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id, include_private_channels: true });
    const first = await pass(provider, ctx, null);
    expect(fileNames(first.changes)).toEqual(['alpha.txt', 'beta.txt', 'plan.txt', 'spec.txt']);
    expect(driveDeltas(library)).toBe(1);
    expect(driveDeltas(privateDrive)).toBe(1);
    expect(first.cursor.drives.map((d) => d.driveId).sort()).toEqual([library, privateDrive].sort());

    // Changes in a channel folder and outside every channel folder: one library page, only the channel's file reported.
    emulator.updateFile(files.spec.id, 'spec v2');
    emulator.updateFile(files.loose.id, 'loose v2');
    const second = await pass(provider, ctx, first.cursor);
    expect(fileNames(second.changes)).toEqual(['spec.txt']);
    expect(deletes(second.changes)).toEqual([]);
    expect(driveDeltas(library)).toBe(2);
    expect(driveDeltas(privateDrive)).toBe(2);
  });

  it('a channel that leaves deletes its own threads and files, and reads nothing else again', async () => {
    const { t, a, b, library, files } = team();
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id });
    const first = await pass(provider, ctx, null);
    const betaThread = threads(first.changes).find((i) => i.sourceId.startsWith(threadSourceId(t.id, b.id, '')));
    expect(betaThread).toBeDefined();

    emulator.teams.deleteChannel(t.id, b.id);
    const listingsBefore = emulator.requests.filter((r) => r.path.endsWith('/messages')).length;
    const second = await pass(provider, ctx, first.cursor);
    // Its files, found below its folder (the folder itself stays in SharePoint, as it does when a channel is deleted).
    expect(deletes(second.changes).sort()).toEqual([files.beta.id, files.spec.id].sort());
    // Its threads: swept at the pass's end, and only they.
    const last = second.pages.at(-1);
    expect(last).toMatchObject({ fullEnumeration: true, enumerationComplete: true, sweepOnly: [threadSourceId(t.id, b.id, '')] });
    // Nothing else read again: no channel listed, the library followed from its deltaLink, Alpha's file untouched.
    expect(emulator.requests.filter((r) => r.path.endsWith('/messages')).length).toBe(listingsBefore);
    expect(upserts(second.changes)).toEqual([]);
    expect(second.cursor.channels.map((c) => c.id)).toEqual([a.id]);
    expect(second.cursor.drives.map((d) => d.driveId)).toEqual([library]);

    // A later change below the gone channel's folder is outside every synced folder now.
    emulator.updateFile(files.spec.id, 'spec v3');
    const third = await pass(provider, ctx, second.cursor);
    expect(upserts(third.changes)).toEqual([]);
  });

  it('a channel added later has its folder listed once, then served by the same library delta', async () => {
    const { t, files } = team();
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id });
    const first = await pass(provider, ctx, null);
    const gamma = emulator.teams.addChannel(t.id, 'Gamma');
    const fg = emulator.teams.filesFolderItem(gamma);
    const old = emulator.addFile(fg.id, 'old.txt', 'old', { driveId: fg.driveId });
    const second = await pass(provider, ctx, first.cursor);
    expect(fileNames(second.changes)).toContain('old.txt');
    expect(emulator.requests.some((r) => r.path === `/v1.0/drives/${fg.driveId}/items/${fg.id}/children`)).toBe(true);

    emulator.updateFile(old.id, 'old v2');
    emulator.updateFile(files.alpha.id, 'alpha v2');
    const third = await pass(provider, ctx, second.cursor);
    expect(fileNames(third.changes)).toEqual(['alpha.txt', 'old.txt']);
  });

  it('replaces a cursor that kept one files cursor per channel with one enumeration of the team, whose documents keep their signatures', async () => {
    const { t } = team();
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id });
    const first = await pass(provider, ctx, null);
    // The shape saved before: v1, each channel's files folder with its own drive cursor, recorded under its own items scope.
    const legacy = {
      ...first.cursor,
      v: 1,
      drives: undefined,
      channels: first.cursor.channels.map((c) => ({ ...c, files: c.files ? { ...c.files, cursor: { v: 1 } } : null })),
    };
    const oldScopes = first.cursor.channels.flatMap((c) => (c.files ? [`drive:${c.files.driveId} folder:${c.files.folderId}`] : []));
    for (const scope of oldScopes) ctx.itemMap.set(scope, new Map([['x', { parentId: null, folder: false, gone: false }]]));
    const read = provider.parseCursor(JSON.parse(JSON.stringify(legacy)));
    expect(read).toMatchObject({ v: 1 });

    const expired = await provider.listChanges(ctx, read).catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(CursorExpiredError);
    expect((expired as CursorExpiredError).code).toBe('cursorUpgraded');
    for (const scope of oldScopes) expect(ctx.itemMap.has(scope)).toBe(false);

    // What the pipeline does next: an enumeration from scratch. Same documents, same signatures: nothing is downloaded again.
    const again = await pass(provider, ctx, null);
    const signatures = (changes: typeof first.changes) => upserts(changes).map((i) => `${i.sourceId} ${i.signature}`).sort();
    expect(signatures(again.changes)).toEqual(signatures(first.changes));
  });

  it('enumerates the team again once full_enumeration_days have passed since the last enumeration', async () => {
    const { t } = team();
    const provider = teamsProvider(emulator);
    const ctx = teamsContext({ team_id: t.id, full_enumeration_days: 3 });
    const first = await pass(provider, ctx, null);
    expect(first.cursor.enumeratedAt).toBeDefined();
    const second = await pass(provider, ctx, first.cursor);
    expect(second.cursor.enumeratedAt).toBe(first.cursor.enumeratedAt);
    const aged: TeamsCursor = { ...second.cursor, enumeratedAt: new Date(Date.now() - 3 * 24 * 3600_000 - 60_000).toISOString() };
    await expect(provider.listChanges(ctx, aged)).rejects.toBeInstanceOf(EnumerationDueError);
    // 0: never.
    const never = teamsContext({ team_id: t.id, full_enumeration_days: 0 });
    await expect(pass(provider, never, aged)).resolves.toBeDefined();
  });
});
