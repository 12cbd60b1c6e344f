import { describe, expect, it } from 'vitest';
import { CursorExpiredError, PermanentSourceError } from '../../../src/errors.js';
import type { DriveEmulator } from '../../emulators/drive/index.js';
import { crawl, deletes, drain, driveContext, names, providerFor, upserts, useDriveEmulator, walking } from './harness.js';

let emu: DriveEmulator;
useDriveEmulator((e) => (emu = e));

/** My Drive: Projects/2026/Q1/Specs (4 levels), plus a file at the top and a folder outside Projects. */
function buildTree() {
  const root = emu.myDrive();
  const projects = emu.addFolder(root, 'Projects');
  const y2026 = emu.addFolder(projects, '2026');
  const q1 = emu.addFolder(y2026, 'Q1');
  const specs = emu.addFolder(q1, 'Specs');
  for (let i = 1; i <= 5; i++) emu.addFile(q1, `q1-${i}.txt`, `q1 ${i}`, { mimeType: 'text/plain' });
  emu.addFile(specs, 'deep.pdf', 'deep', { mimeType: 'application/pdf' });
  emu.addFile(projects, 'plan.md', '# plan', { mimeType: 'text/markdown' });
  emu.addFile(root, 'top.txt', 'top', { mimeType: 'text/plain' });
  const other = emu.addFolder(root, 'Other');
  emu.addFile(other, 'elsewhere.txt', 'no', { mimeType: 'text/plain' });
  return { root, projects, y2026, q1, specs, other };
}

describe('the first sync (full enumeration)', () => {
  it('takes the change start token before listing anything', async () => {
    buildTree();
    await crawl(providerFor(emu), driveContext(emu));
    const order = emu.requests.map((r) => r.path);
    const start = order.indexOf('/drive/v3/changes/startPageToken');
    expect(start).toBeGreaterThan(-1);
    expect(order.indexOf('/drive/v3/files')).toBeGreaterThan(start);
  });

  it('catches in the first change pass a file added while the crawl ran', async () => {
    const { q1 } = buildTree();
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const first = await provider.listChanges(ctx, null);
    expect(first.hasMore).toBe(true);
    // Added to a folder the crawl already listed? Either way the log must report it.
    emu.addFile(emu.myDrive(), 'late.txt', 'late', { mimeType: 'text/plain' });
    emu.addFile(q1, 'late-q1.txt', 'late', { mimeType: 'text/plain' });
    const rest = await drain(provider, ctx, first.cursor);
    const enumeration = rest.pages.filter((p) => p.fullEnumeration);
    const changePass = rest.pages.filter((p) => !p.fullEnumeration).flatMap((p) => p.changes);
    expect(enumeration.at(-1)?.enumerationComplete).toBe(true);
    expect(names(changePass)).toContain('late.txt');
    expect(rest.cursor.phase).toBe('changes');
  });

  it('walks nested folders 4 levels deep, page by page, one API page per call', async () => {
    buildTree();
    emu.maxPageSize = 2;
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const result = await crawl(provider, ctx);
    expect(names(result.changes)).toEqual(['deep.pdf', 'elsewhere.txt', 'plan.md', 'q1-1.txt', 'q1-2.txt', 'q1-3.txt', 'q1-4.txt', 'q1-5.txt', 'top.txt']);
    expect(result.pages.every((p) => p.fullEnumeration)).toBe(true);
    expect(result.pages.filter((p) => p.enumerationComplete)).toHaveLength(1);
    // Every call listed exactly one page of one folder.
    expect(emu.requestsTo('/drive/v3/files', {}).filter((r) => r.query.q)).toHaveLength(result.pages.length);
    expect(result.pages.length).toBeGreaterThan(6);
    expect(Math.max(...result.pages.map((p) => p.changes.length))).toBeLessThanOrEqual(2);
  });

  it('resumes a folder listing mid-way from the saved cursor', async () => {
    const { q1 } = buildTree();
    emu.maxPageSize = 2;
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    let page = await provider.listChanges(ctx, null);
    const before = [...page.changes];
    while (page.cursor.phase === 'crawl' && page.cursor.current?.folderId !== q1) {
      page = await provider.listChanges(ctx, page.cursor);
      before.push(...page.changes);
    }
    expect(walking(page.cursor).current?.pageToken).toBeTruthy();
    const resumed = provider.parseCursor(JSON.parse(JSON.stringify(page.cursor)));
    const rest = await drain(provider, ctx, resumed);
    const q1Before = names(before).filter((n) => n.startsWith('q1-'));
    const q1After = names(rest.changes).filter((n) => n.startsWith('q1-'));
    expect(q1Before.length).toBeGreaterThan(0);
    expect([...q1Before, ...q1After].sort()).toEqual(['q1-1.txt', 'q1-2.txt', 'q1-3.txt', 'q1-4.txt', 'q1-5.txt']);
  });

  it('limits a folder_id connector to that folder and everything below it', async () => {
    const { projects, y2026, q1, specs, other, root } = buildTree();
    const ctx = driveContext(emu, { folder_id: projects });
    const result = await crawl(providerFor(emu), ctx);
    expect(names(result.changes)).toEqual(['deep.pdf', 'plan.md', 'q1-1.txt', 'q1-2.txt', 'q1-3.txt', 'q1-4.txt', 'q1-5.txt']);
    expect(ctx.folderMap.get(projects)).toEqual({ parentId: null, inScope: true });
    expect(ctx.folderMap.get(y2026)).toEqual({ parentId: projects, inScope: true });
    expect(ctx.folderMap.get(q1)).toEqual({ parentId: y2026, inScope: true });
    expect(ctx.folderMap.get(specs)).toEqual({ parentId: q1, inScope: true });
    expect(ctx.folderMap.has(other)).toBe(false);
    expect(ctx.folderMap.has(root)).toBe(false);
  });

  it('refuses a folder_id that does not exist or is a file, naming the key', async () => {
    const file = emu.addFile(emu.myDrive(), 'a.txt', 'a');
    for (const [folderId, code] of [
      ['nope', 'folderNotFound'],
      [file, 'notAFolder'],
    ] as const) {
      const error = await providerFor(emu).listChanges(driveContext(emu, { folder_id: folderId }), null).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentSourceError);
      expect(error).toMatchObject({ scope: 'sync', code });
      expect((error as Error).message).toContain('folder_id');
    }
  });

  it('restarts (CursorExpiredError) when the connector now points elsewhere', async () => {
    const { projects, other } = buildTree();
    const provider = providerFor(emu);
    const { cursor } = await drain(provider, driveContext(emu, { folder_id: projects }), null);
    await expect(provider.listChanges(driveContext(emu, { folder_id: other }), cursor)).rejects.toBeInstanceOf(CursorExpiredError);
  });

  it('never hands on an incomplete allDrives listing: it narrows to the user corpus, for the rest of that folder too', async () => {
    const root = emu.myDrive();
    for (const name of ['a.txt', 'b.txt', 'c.txt']) emu.addFile(root, name, name, { mimeType: 'text/plain' });
    emu.maxPageSize = 2;
    emu.incompleteSearches = 1;
    const result = await drain(providerFor(emu), driveContext(emu), null);
    expect(names(result.changes)).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect(emu.requestsTo('/drive/v3/files', { corpora: 'user' })).toHaveLength(2);
  });

  it('fails the page (to be retried) rather than report an incomplete listing twice over', async () => {
    emu.addFile(emu.myDrive(), 'a.txt', 'a', { mimeType: 'text/plain' });
    emu.incompleteSearches = 1;
    emu.fail({ path: '/drive/v3/files', query: { corpora: 'user' }, reply: { status: 200, body: { files: [], incompleteSearch: true } } });
    await expect(providerFor(emu).listChanges(driveContext(emu), null)).rejects.toThrow(/incomplete listing/);
  });

  it('turns a listing page token Drive no longer knows into CursorExpiredError', async () => {
    buildTree();
    emu.maxPageSize = 2;
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    let page = await provider.listChanges(ctx, null);
    while (!walking(page.cursor).current?.pageToken) page = await provider.listChanges(ctx, page.cursor);
    const at = walking(page.cursor);
    const cursor = provider.parseCursor({ ...at, current: { ...at.current, pageToken: 'forged' } });
    await expect(provider.listChanges(ctx, cursor)).rejects.toBeInstanceOf(CursorExpiredError);
  });
});

describe('shared drives', () => {
  function buildDrives() {
    const root = emu.myDrive();
    emu.addFile(root, 'mine.txt', 'mine', { mimeType: 'text/plain' });
    const sales = emu.addSharedDrive('Sales');
    const legal = emu.addSharedDrive('Legal');
    const secret = emu.addSharedDrive('Board', ['someone-else@example.com']);
    const deals = emu.addFolder(sales, 'Deals');
    emu.addFile(deals, 'deal.pdf', 'deal', { mimeType: 'application/pdf' });
    emu.addFile(sales, 'pitch.pdf', 'pitch', { mimeType: 'application/pdf' });
    emu.addFile(legal, 'nda.pdf', 'nda', { mimeType: 'application/pdf' });
    emu.addFile(secret, 'board.pdf', 'board', { mimeType: 'application/pdf' });
    return { root, sales, legal, secret, deals };
  }

  it('syncs one shared drive with drive_id, listing and following its own change log', async () => {
    const { sales, deals } = buildDrives();
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { drive_id: sales });
    const result = await drain(provider, ctx, null);
    expect(names(result.changes)).toEqual(['deal.pdf', 'pitch.pdf']);
    expect(walking(result.cursor).logs).toEqual([expect.objectContaining({ driveId: sales, root: sales })]);
    expect(emu.requestsTo('/drive/v3/changes/startPageToken', { driveId: sales, supportsAllDrives: 'true' })).toHaveLength(1);
    expect(emu.requestsTo('/drive/v3/files', { corpora: 'drive', driveId: sales, includeItemsFromAllDrives: 'true' }).length).toBeGreaterThan(0);

    emu.addFile(deals, 'deal-2.pdf', 'deal 2', { mimeType: 'application/pdf' });
    const next = await drain(provider, ctx, result.cursor);
    expect(names(next.changes)).toEqual(['deal-2.pdf']);
    expect(emu.requestsTo('/drive/v3/changes', { driveId: sales }).length).toBeGreaterThan(0);
  });

  it('refuses a drive_id the identity is not a member of', async () => {
    const { secret } = buildDrives();
    await expect(providerFor(emu).listChanges(driveContext(emu, { drive_id: secret }), null)).rejects.toMatchObject({
      scope: 'sync',
      code: 'driveNotFound' });
  });

  it('syncs a folder inside a shared drive through that drive', async () => {
    const { sales, deals } = buildDrives();
    const ctx = driveContext(emu, { folder_id: deals });
    const result = await drain(providerFor(emu), ctx, null);
    expect(names(result.changes)).toEqual(['deal.pdf']);
    expect(walking(result.cursor).logs).toEqual([expect.objectContaining({ driveId: sales, root: deals })]);
    await expect(providerFor(emu).listChanges(driveContext(emu, { folder_id: deals, drive_id: 'other' }), null)).rejects.toMatchObject({
      code: 'folderNotInDrive' });
  });

  it('with all_shared_drives syncs My Drive and every member drive, one change log each', async () => {
    const { root, sales, legal, deals } = buildDrives();
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { all_shared_drives: true });
    const result = await drain(provider, ctx, null);
    expect(names(result.changes)).toEqual(['deal.pdf', 'mine.txt', 'nda.pdf', 'pitch.pdf']);
    expect(walking(result.cursor).logs.map((l) => l.driveId ?? `my:${l.root}`).sort()).toEqual([legal, `my:${root}`, sales].sort());

    emu.addFile(legal, 'nda-2.pdf', 'nda 2', { mimeType: 'application/pdf' });
    emu.addFile(root, 'mine-2.txt', 'mine 2', { mimeType: 'text/plain' });
    const moved = upserts(result.changes).find((i) => i.name === 'deal.pdf')?.sourceId ?? '';
    emu.move(moved, legal); // from Sales to Legal: "removed" in one log, new in the other
    const next = await drain(provider, ctx, result.cursor);
    // deal.pdf comes from both logs (upserts with one signature: stored once, fetched once).
    expect([...new Set(names(next.changes))]).toEqual(['deal.pdf', 'mine-2.txt', 'nda-2.pdf']);
    expect(deletes(next.changes)).not.toContain(moved);
    expect(ctx.folderMap.get(deals)?.inScope).toBe(true);
  });

  it('with several logs, tells a file moved to another drive from one deleted by the removal itself (includeCorpusRemovals), not by a files.get each', async () => {
    const { legal } = buildDrives();
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { all_shared_drives: true });
    const first = await drain(provider, ctx, null);
    const idOf = (name: string) => upserts(first.changes).find((i) => i.name === name)?.sourceId ?? '';
    const [deal, pitch] = [idOf('deal.pdf'), idOf('pitch.pdf')];
    const mark = emu.requests.length;

    emu.move(deal, legal); // "removed" in Sales' log, still visible: it comes with the file
    emu.remove(pitch); // deleted for good: no file
    const next = await drain(provider, ctx, first.cursor);

    expect(deletes(next.changes)).toEqual([pitch]);
    expect([...new Set(upserts(next.changes).map((i) => i.sourceId))]).toEqual([deal]);
    const since = emu.requests.slice(mark);
    expect(since.filter((r) => r.path.startsWith('/drive/v3/files/'))).toEqual([]);
    expect(since.filter((r) => r.path === '/drive/v3/changes').every((r) => r.query.includeCorpusRemovals === 'true')).toBe(true);
  });

  it('starts over when a shared drive appears or disappears', async () => {
    buildDrives();
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { all_shared_drives: true });
    const { cursor } = await drain(provider, ctx, null);
    emu.addSharedDrive('New team');
    await expect(provider.listChanges(ctx, cursor)).rejects.toThrow(/shared drives visible to this identity changed \(1 added, 0 gone\)/);
  });
});
