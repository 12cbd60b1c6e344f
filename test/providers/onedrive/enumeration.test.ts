import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CursorExpiredError } from '../../../src/errors.js';
import { CONNECTOR_VERSION } from '../../../src/providers/microsoft-graph/user-agent.js';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { deletes, oneDriveContext, providerFor, upsertNames, upserts, walk, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;

useGraphEmulator((e) => (emulator = e));

/** 450 files in three folders: more than two pages of 200. */
function seedManyFiles(): string[] {
  const names: string[] = [];
  for (const folder of ['Alpha', 'Beta', 'Gamma']) {
    emulator.addFolder('/', folder);
    for (let i = 0; i < 150; i++) {
      const name = `${folder.toLowerCase()}-${String(i).padStart(3, '0')}.txt`;
      emulator.addFile(`/${folder}`, name, `content of ${name}`);
      names.push(name);
    }
  }
  return names.sort();
}

describe('OneDrive full enumeration', () => {
  it('reports every file exactly once across pages, and no folder', async () => {
    const names = seedManyFiles();
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);

    const { pages, changes } = await walk(provider, ctx, null);

    expect(pages.length).toBe(3); // 454 items (root, 3 folders, 450 files) at 200 per page
    expect(upsertNames(changes)).toEqual(names);
    expect(changes.every((c) => c.kind === 'upsert')).toBe(true);
    expect(pages.map((p) => [p.fullEnumeration, p.hasMore, p.enumerationComplete ?? false])).toEqual([
      [true, true, false],
      [true, true, false],
      [true, false, true],
    ]);
    expect(emulator.requestCount(/\/root\/delta$/)).toBe(3);
  });

  it('skips a file the malware scan flagged, with the reason, instead of failing its download every sync', async () => {
    const infected = emulator.addFile('/', 'invoice.exe', 'MZ', { malware: true });
    emulator.addFile('/', 'clean.txt', 'ok');
    const { changes } = await walk(providerFor(emulator), oneDriveContext(emulator), null);

    expect(upsertNames(changes)).toEqual(['clean.txt']);
    expect(changes).toContainEqual({ kind: 'skip', sourceId: infected.id, name: 'invoice.exe', reason: expect.stringMatching(/malware/) });
  });

  it('decorates every request, downloads and sign-in included, with SharePoint\'s ISV|Company|App/Version User-Agent', async () => {
    emulator.addFile('/', 'a.txt', 'a');
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const item = upserts((await walk(provider, ctx, null)).changes)[0];
    if (!item) throw new Error('a.txt was not listed');
    (await provider.openContent(ctx, item)).body.resume();

    expect(emulator.requests.map((r) => r.path)).toEqual(expect.arrayContaining([expect.stringMatching(/oauth2/), expect.stringMatching(/^\/download\//)]));
    for (const request of emulator.requests) expect(request.userAgent).toBe(`ISV|EchoMind|echomind-connector/${CONNECTOR_VERSION}`);
    expect(CONNECTOR_VERSION).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });

  it('asks Graph for root delta with $select and $top, and maps each file', async () => {
    const file = emulator.addFile('/', 'Report.PDF', Buffer.from('%PDF-1.7'), { mimeType: 'application/pdf' });
    emulator.addFile('/', 'notes.md', '# notes'); // no declared type: the extension decides
    const provider = providerFor(emulator);

    const { changes } = await walk(provider, oneDriveContext(emulator), null);

    const first = emulator.requests.find((r) => r.path.endsWith('/root/delta'));
    const query = new URLSearchParams(first?.search);
    expect(query.get('$top')).toBe('200');
    expect(query.get('$select')?.split(',')).toEqual(expect.arrayContaining(['cTag', 'eTag', 'file', 'folder', 'deleted', 'parentReference']));
    const [report, notes] = ['Report.PDF', 'notes.md'].map((n) => upserts(changes).find((i) => i.name === n));
    expect(report).toEqual({
      sourceId: file.id,
      name: 'Report.PDF',
      signature: `quickXorHash:${emulator.store.quickXorHash(file)}`,
      contentType: 'application/pdf',
      size: 8,
      webUrl: 'https://contoso.example/Shared%20Documents/Report.PDF',
      fetch: { driveId: emulator.drive.id, itemId: file.id } });
    expect(notes?.contentType).toBe('text/markdown');
  });

  it('finds the drive through user_principal_name, user_id and site_id with a folder', async () => {
    emulator.addFile('/', 'a.txt', 'a');
    const provider = providerFor(emulator);
    for (const config of [{ user_principal_name: 'alice@contoso.example' }, { user_id: 'alice' }, { site_id: 'contoso.example,site-1,web-1', folder_id: emulator.drive.rootId }]) {
      const { changes, cursor } = await walk(provider, oneDriveContext(emulator, config), null);
      expect(upsertNames(changes)).toEqual(['a.txt']);
      expect(cursor.driveId).toBe(emulator.drive.id);
    }
    expect(emulator.requestCount(/^\/v1\.0\/users\/alice@contoso\.example\/drive$/)).toBe(1);
    expect(emulator.requestCount(/^\/v1\.0\/sites\/.*\/drive$/)).toBe(1);
  });

  it('ends in a permanent config error when the drive does not exist', async () => {
    const provider = providerFor(emulator);
    await expect(provider.listChanges(oneDriveContext(emulator, { drive_id: 'b!no-such-drive' }), null)).rejects.toMatchObject({
      name: 'ScopeGoneError', // the sync's status then names the documents still indexed (activities add the count)
      scope: 'sync',
      message: expect.stringContaining('drive_id') });
  });
});

describe('OneDrive incremental changes', () => {
  it('continues from the saved deltaLink: modify gives a new signature, rename keeps it, delete deletes', async () => {
    const keep = emulator.addFile('/', 'keep.txt', 'unchanged');
    const edited = emulator.addFile('/', 'edited.txt', 'version 1');
    const renamed = emulator.addFile('/', 'old-name.txt', 'same bytes');
    const removed = emulator.addFile('/', 'removed.txt', 'bye');
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const first = await walk(provider, ctx, null);
    const before = new Map(upserts(first.changes).map((i) => [i.sourceId, i.signature]));

    emulator.updateFile(edited.id, 'version 2');
    emulator.rename(renamed.id, 'new-name.txt');
    emulator.delete(removed.id);
    const second = await walk(provider, ctx, first.cursor);

    expect(second.pages.every((p) => !p.fullEnumeration)).toBe(true);
    const after = new Map(upserts(second.changes).map((i) => [i.sourceId, i]));
    expect(after.has(keep.id)).toBe(false);
    expect(after.get(edited.id)?.signature).not.toBe(before.get(edited.id));
    expect(after.get(renamed.id)).toMatchObject({ name: 'new-name.txt', signature: before.get(renamed.id) });
    expect(deletes(second.changes)).toEqual([removed.id]);
  });

  it('takes the last state of an item that appears twice in a page', async () => {
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const { cursor } = await walk(provider, ctx, null);
    const file = emulator.addFile('/', 'draft.txt', 'one');
    emulator.updateFile(file.id, 'two');
    emulator.rename(file.id, 'final.txt');

    const page = await provider.listChanges(ctx, cursor);

    const deltaBody = page.changes.filter((c) => c.kind === 'upsert' && c.item.sourceId === file.id);
    expect(deltaBody).toHaveLength(1);
    expect(deltaBody[0]).toMatchObject({ item: { name: 'final.txt', signature: `quickXorHash:${emulator.store.quickXorHash(file)}` } });
  });

  it('reports nothing new once caught up, with hasMore false', async () => {
    emulator.addFile('/', 'a.txt', 'a');
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const { cursor } = await walk(provider, ctx, null);

    const page = await provider.listChanges(ctx, cursor);

    expect(page).toMatchObject({ changes: [], hasMore: false, fullEnumeration: false });
    expect(page.cursor.caughtUp).toBe(true);
  });

  it('throws CursorExpiredError on 410 resyncRequired, and a fresh enumeration works', async () => {
    emulator.addFile('/', 'a.txt', 'a');
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const { cursor } = await walk(provider, ctx, null);
    emulator.faults.push({ match: /\/root\/delta$/, status: 410, code: 'resyncChangesApplyDifferences' });

    const error: unknown = await provider.listChanges(ctx, cursor).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CursorExpiredError);
    expect((error as CursorExpiredError).restartFrom).toBeUndefined();
    expect((error as Error).message).toContain('resyncChangesApplyDifferences');
    const again = await walk(provider, ctx, null);
    expect(upsertNames(again.changes)).toEqual(['a.txt']);
    expect(again.pages.at(-1)?.enumerationComplete).toBe(true);
  });

  it('treats a cursor made for another drive or folder as expired', async () => {
    const provider = providerFor(emulator);
    const { cursor } = await walk(provider, oneDriveContext(emulator), null);
    emulator.addFolder('/', 'Docs');

    await expect(provider.listChanges(oneDriveContext(emulator, { drive_id: emulator.drive.id, folder_path: '/Docs' }), cursor)).rejects.toBeInstanceOf(
      CursorExpiredError,
    );
  });
});
