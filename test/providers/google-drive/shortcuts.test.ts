import { describe, expect, it } from 'vitest';
import type { DriveEmulator } from '../../emulators/drive/index.js';
import { crawl, deletes, drain, driveContext, names, providerFor, skips, upserts, useDriveEmulator } from './harness.js';

let emu: DriveEmulator;
useDriveEmulator((e) => (emu = e));

function build() {
  const root = emu.myDrive();
  const team = emu.addFolder(root, 'Team');
  const sub = emu.addFolder(team, 'Sub');
  const outside = emu.addFolder(root, 'Outside');
  const inTeam = emu.addFile(team, 'in-team.txt', 'in', { mimeType: 'text/plain' });
  const external = emu.addFile(outside, 'external.pdf', 'ext', { mimeType: 'application/pdf' });
  const extFolder = emu.addFolder(outside, 'Reference');
  const refFile = emu.addFile(extFolder, 'ref.txt', 'ref', { mimeType: 'text/plain' });
  return { root, team, sub, outside, inTeam, external, extFolder, refFile };
}

describe('shortcuts', () => {
  it('are reported as their target, under the target id', async () => {
    const { team, external } = build();
    const shortcut = emu.addShortcut(team, 'Link to external', external);
    const result = await crawl(providerFor(emu), driveContext(emu, { folder_id: team }));
    const item = upserts(result.changes).find((i) => i.sourceId === external);
    expect(item).toMatchObject({ name: 'external.pdf', contentType: 'application/pdf', fetch: { fileId: external } });
    expect(upserts(result.changes).some((i) => i.sourceId === shortcut)).toBe(false);
  });

  it('store a file reached directly and through a shortcut once (one source id)', async () => {
    const { team, sub, inTeam } = build();
    emu.addShortcut(sub, 'again', inTeam);
    const result = await crawl(providerFor(emu), driveContext(emu, { folder_id: team }));
    const reached = upserts(result.changes).filter((i) => i.sourceId === inTeam);
    expect(reached.length).toBeGreaterThanOrEqual(1);
    expect(new Set(reached.map((i) => i.signature)).size).toBe(1);
    expect(new Set(upserts(result.changes).map((i) => i.sourceId))).toEqual(new Set([inTeam]));
  });

  it('skip a dangling shortcut with the reason', async () => {
    const { team, external } = build();
    const shortcut = emu.addShortcut(team, 'Broken link', external);
    emu.remove(external);
    const result = await crawl(providerFor(emu), driveContext(emu, { folder_id: team }));
    expect(skips(result.changes)).toEqual([{ kind: 'skip', sourceId: shortcut, name: 'Broken link', reason: 'dangling shortcut' }]);
  });

  it('to a folder bring its subtree into scope, and cycles end', async () => {
    const { team, sub, extFolder, refFile } = build();
    emu.addShortcut(team, 'Reference', extFolder);
    emu.addShortcut(sub, 'Up to Team', team); // a cycle
    emu.addShortcut(extFolder, 'Back to Team', team); // another, through the target
    const ctx = driveContext(emu, { folder_id: team });
    const result = await crawl(providerFor(emu), ctx);
    expect(names(result.changes)).toEqual(['in-team.txt', 'ref.txt']);
    expect(upserts(result.changes).find((i) => i.name === 'ref.txt')?.sourceId).toBe(refFile);
    expect(ctx.folderMap.get(extFolder)?.inScope).toBe(true);
    // Each folder listed once.
    for (const folder of [team, sub, extFolder]) {
      expect(emu.requestsTo('/drive/v3/files').filter((r) => r.query.q === `'${folder}' in parents and trashed=false`)).toHaveLength(1);
    }
  });

  it('keep a target outside scope in scope for its later edits', async () => {
    const { team, external } = build();
    emu.addShortcut(team, 'Link', external);
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { folder_id: team });
    const first = await drain(provider, ctx, null);
    emu.update(external, { content: 'ext v2' });
    const next = await drain(provider, ctx, first.cursor);
    expect(upserts(next.changes).map((i) => i.sourceId)).toEqual([external]);
    expect(deletes(next.changes)).toEqual([]);
  });

  it('added later bring their target; removed, take it away unless it is in scope on its own', async () => {
    const { team, external, inTeam, sub } = build();
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { folder_id: team });
    const first = await drain(provider, ctx, null);

    const toExternal = emu.addShortcut(team, 'Link', external);
    const toInside = emu.addShortcut(sub, 'Inside link', inTeam);
    const added = await drain(provider, ctx, first.cursor);
    expect(new Set(upserts(added.changes).map((i) => i.sourceId))).toEqual(new Set([external, inTeam]));

    emu.remove(toExternal);
    emu.trash(toInside);
    const removed = await drain(provider, ctx, added.cursor);
    expect(deletes(removed.changes)).toContain(external);
    expect(deletes(removed.changes)).not.toContain(inTeam);
  });

  it('to a folder, removed later, take the folder subtree away', async () => {
    const { team, extFolder, refFile } = build();
    const link = emu.addShortcut(team, 'Reference', extFolder);
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { folder_id: team });
    const first = await drain(provider, ctx, null);
    expect(names(first.changes)).toContain('ref.txt');
    emu.trash(link);
    const next = await drain(provider, ctx, first.cursor);
    expect(deletes(next.changes)).toEqual([refFile]);
    expect(ctx.folderMap.get(extFolder)?.inScope).toBe(false);
  });
});
