import { describe, expect, it } from 'vitest';
import { MIME } from '../../../src/contract.js';
import { EnumerationDueError, PermanentSourceError } from '../../../src/errors.js';
import type { ChangesCursor } from '../../../src/providers/google-drive/cursor.js';
import type { SourceChange } from '../../../src/providers/types.js';
import { NATIVE, type DriveEmulator } from '../../emulators/drive/index.js';
import { drain, driveContext, providerFor, readAll, syncOnce, upserts, useDriveEmulator, walking, type Synced } from './harness.js';

let emu: DriveEmulator;
useDriveEmulator((e) => (emu = e));

const daysAgo = (days: number) => new Date(Date.now() - days * 24 * 60 * 60_000).toISOString();

function changesCursor(cursor: Synced['cursor']): ChangesCursor {
  const at = walking(cursor);
  if (at.phase !== 'changes') throw new Error(`expected a changes cursor, got ${at.phase}`);
  return at;
}

type Provider = ReturnType<typeof providerFor>;

/**
 * What the pipeline does with a sync's pages, in miniature: one stored signature per id,
 * content fetched only when the signature changes, and after a complete enumeration a sweep of
 * what it did not list. The emulator counts the fetches.
 */
class MiniIndex {
  readonly signatures = new Map<string, string>();

  async apply(provider: Provider, ctx: ReturnType<typeof driveContext>, synced: Synced): Promise<void> {
    let seen: Set<string> | null = null;
    for (const page of synced.pages) {
      if (page.fullEnumeration) seen ??= new Set();
      for (const change of page.changes) await this.applyChange(provider, ctx, change, seen);
      if (page.enumerationComplete && seen) {
        for (const id of [...this.signatures.keys()]) if (!seen.has(id)) this.signatures.delete(id);
        seen = null;
      }
    }
  }

  private async applyChange(provider: Provider, ctx: ReturnType<typeof driveContext>, change: SourceChange, seen: Set<string> | null): Promise<void> {
    if (change.kind === 'delete') {
      this.signatures.delete(change.sourceId);
      return;
    }
    if (change.kind !== 'upsert') {
      seen?.add(change.sourceId);
      return;
    }
    const { item } = change;
    seen?.add(item.sourceId);
    if (this.signatures.get(item.sourceId) === item.signature) return;
    await readAll((await provider.openContent(ctx, item)).body);
    this.signatures.set(item.sourceId, item.signature);
  }
}

describe('Google Drive periodic full enumeration', () => {
  it('is due once full_enumeration_days have passed since the last one, at the start of a pass only; 0 turns it off, weekly by default', async () => {
    emu.addFile(emu.myDrive(), 'a.txt', 'a', { mimeType: 'text/plain' });
    const provider = providerFor(emu);
    const synced = async (config: Record<string, unknown>) => {
      const ctx = driveContext(emu, config);
      return { ctx, cursor: changesCursor((await drain(provider, ctx, null)).cursor) };
    };
    const { ctx, cursor } = await synced({ full_enumeration_days: 3 });
    expect(Date.parse(cursor.enumeratedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);

    expect((await drain(provider, ctx, { ...cursor, enumeratedAt: daysAgo(2) })).changes).toEqual([]);
    await expect(provider.listChanges(ctx, { ...cursor, enumeratedAt: daysAgo(4) })).rejects.toBeInstanceOf(EnumerationDueError);
    // A pass already under way (a log not read yet) finishes first.
    await expect(provider.listChanges(ctx, { ...cursor, next: 0, enumeratedAt: daysAgo(4) })).resolves.toBeDefined();

    const never = await synced({ full_enumeration_days: 0 });
    await expect(provider.listChanges(never.ctx, { ...never.cursor, enumeratedAt: daysAgo(400) })).resolves.toBeDefined();
    const weekly = await synced({});
    await expect(provider.listChanges(weekly.ctx, { ...weekly.cursor, enumeratedAt: daysAgo(6) })).resolves.toBeDefined();
    await expect(provider.listChanges(weekly.ctx, { ...weekly.cursor, enumeratedAt: daysAgo(8) })).rejects.toBeInstanceOf(EnumerationDueError);
  });

  it('a cursor saved before the time was kept is stamped on its next pass, not enumerated at once', async () => {
    emu.addFile(emu.myDrive(), 'a.txt', 'a', { mimeType: 'text/plain' });
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { full_enumeration_days: 1 });
    const { enumeratedAt: _dropped, ...old } = changesCursor((await drain(provider, ctx, null)).cursor);
    const next = changesCursor((await drain(provider, ctx, old)).cursor);
    expect(Date.parse(next.enumeratedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
  });

  it('refuses a full_enumeration_days that is not a whole number of days from 0 to 365, naming the key', () => {
    const provider = providerFor(emu);
    for (const bad of [400, -1, 1.5, 'weekly']) {
      expect(() => provider.validateConfig({ full_enumeration_days: bad })).toThrow(PermanentSourceError);
      expect(() => provider.validateConfig({ full_enumeration_days: bad })).toThrow(/connector config "full_enumeration_days" must be a whole number from 0 to 365/);
    }
    expect(() => provider.validateConfig({ full_enumeration_days: '14' })).not.toThrow();
  });

  it("sweeps a deletion no log carried, refreshes an edit no log carried and a shortcut target's folder in another corpus, and fetches nothing unchanged", async () => {
    const root = emu.myDrive();
    const keep = emu.addFile(root, 'keep.pdf', '%PDF keep', { mimeType: 'application/pdf' });
    const plan = emu.addNativeFile(root, 'Plan', NATIVE.document, { exports: { [MIME.docx]: 'DOCX of Plan' } });
    const lost = emu.addFile(root, 'lost.txt', 'lost', { mimeType: 'text/plain' });
    const edited = emu.addFile(root, 'edited.txt', 'v1', { mimeType: 'text/plain' });
    // A shortcut in My Drive to a folder of a shared drive: that folder's edits live in the drive's own log.
    const sales = emu.addSharedDrive('Sales');
    const specs = emu.addFolder(sales, 'Specs');
    const spec = emu.addFile(specs, 'spec.pdf', '%PDF spec v1', { mimeType: 'application/pdf' });
    emu.addShortcut(root, 'Specs', specs);
    const provider = providerFor(emu);
    const ctx = driveContext(emu, { full_enumeration_days: 1 });
    const index = new MiniIndex();
    const first = await syncOnce(provider, ctx, null);
    await index.apply(provider, ctx, first);
    expect([...index.signatures.keys()].sort()).toEqual([edited, keep, lost, plan, spec].sort());

    emu.withoutChanges(() => {
      emu.remove(lost);
      emu.update(edited, { content: 'v2' });
    });
    emu.update(spec, { content: '%PDF spec v2' }); // logged in Sales' log only, which a My Drive connector does not read
    const quiet = await syncOnce(provider, ctx, first.cursor);
    expect(quiet.changes).toEqual([]); // the logs alone never tell

    const due = await syncOnce(provider, ctx, { ...changesCursor(quiet.cursor), enumeratedAt: daysAgo(2) });
    expect(due.restarted).toBe(true);
    expect(due.swept).toBe(true);
    const before = new Map(index.signatures);
    await index.apply(provider, ctx, due);

    expect([...index.signatures.keys()].sort()).toEqual([edited, keep, plan, spec].sort());
    expect(index.signatures.get(edited)).not.toBe(before.get(edited));
    expect(index.signatures.get(spec)).not.toBe(before.get(spec));
    expect(upserts(due.changes).find((i) => i.sourceId === keep)?.signature).toBe(before.get(keep));
    expect(upserts(due.changes).find((i) => i.sourceId === plan)?.signature).toBe(before.get(plan));
    // Fetched once each at the first sync; again only what changed.
    expect(Object.fromEntries(emu.counters.downloads)).toEqual({ [keep]: 1, [lost]: 1, [edited]: 2, [spec]: 2 });
    expect(Object.fromEntries(emu.counters.exports)).toEqual({ [plan]: 1 });

    // The logs go on from the start tokens taken before the crawl, and the next pass is not due.
    const after = changesCursor(due.cursor);
    expect(Date.parse(after.enumeratedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    emu.update(keep, { content: '%PDF keep v2' });
    const next = await syncOnce(provider, ctx, after);
    expect(next.restarted).toBe(false);
    expect(upserts(next.changes).map((i) => i.sourceId)).toEqual([keep]);
  });
});
