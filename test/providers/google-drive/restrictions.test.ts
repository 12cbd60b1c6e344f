import { describe, expect, it } from 'vitest';
import { MIME } from '../../../src/contract.js';
import { PermanentSourceError } from '../../../src/errors.js';
import { NATIVE, type DriveEmulator } from '../../emulators/drive/index.js';
import { credentialRow, driveContext, providerFor, skips, syncOnce, upserts, useDriveEmulator } from './harness.js';

/** Files Drive will never hand out, grants that cannot read Drive, and Docs whose bytes did not change. */

let emu: DriveEmulator;
useDriveEmulator((e) => (emu = e));

describe('download restrictions', () => {
  it('skips a file whose download is restricted, with the reason, instead of failing it on every sync', async () => {
    const root = emu.myDrive();
    const locked = emu.addFile(root, 'locked.pdf', 'secret', { mimeType: 'application/pdf' });
    const open = emu.addFile(root, 'open.pdf', 'open', { mimeType: 'application/pdf' });
    emu.restrictDownload(locked);
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const first = await syncOnce(provider, ctx, null);
    expect(upserts(first.changes).map((i) => i.sourceId)).toEqual([open]);
    expect(skips(first.changes)).toEqual([{ kind: 'skip', sourceId: locked, name: 'locked.pdf', reason: expect.stringMatching(/^download restricted/) }]);

    // Restricted after it was listed: the transfer's 403 cannotDownloadFile is that file's failure, with the same words.
    emu.restrictDownload(open);
    const item = upserts(first.changes)[0]!;
    const refused = provider.openContent(ctx, item);
    await expect(refused).rejects.toBeInstanceOf(PermanentSourceError);
    await expect(refused).rejects.toMatchObject({ scope: 'item', code: 'cannotDownloadFile', message: expect.stringMatching(/download restricted/) });
    const next = await syncOnce(provider, ctx, first.cursor);
    expect(skips(next.changes)).toEqual([expect.objectContaining({ sourceId: open, reason: expect.stringMatching(/^download restricted/) })]);
  });
});

describe('granted scopes', () => {
  it('refuses a drive.file-only grant with a clear sentence before calling Drive', async () => {
    emu.addFile(emu.myDrive(), 'a.pdf', 'a', { mimeType: 'application/pdf' });
    const ctx = driveContext(emu, {}, { googleCredential: credentialRow(emu, undefined, { grantedScopes: ['https://www.googleapis.com/auth/drive.file', 'openid'] }) });
    const sync = providerFor(emu).listChanges(ctx, null);
    await expect(sync).rejects.toMatchObject({
      scope: 'sync',
      code: 'insufficientScopes',
      message: expect.stringMatching(/without read access to Drive.*drive\.file.*reconnect the Google account/),
    });
    expect(emu.requests.filter((r) => r.path.startsWith('/drive/'))).toEqual([]);
  });

  it('accepts drive.readonly', async () => {
    emu.addFile(emu.myDrive(), 'a.pdf', 'a', { mimeType: 'application/pdf' });
    const ctx = driveContext(emu, {}, { googleCredential: credentialRow(emu, undefined, { grantedScopes: ['https://www.googleapis.com/auth/drive.readonly'] }) });
    expect(upserts((await syncOnce(providerFor(emu), ctx, null)).changes)).toHaveLength(1);
  });
});

describe('Google Docs signatures', () => {
  it('keep the same signature through a sharing edit (a version bump), and change with the content', async () => {
    const root = emu.myDrive();
    const doc = emu.addNativeFile(root, 'Plan', NATIVE.document, { exports: { [MIME.docx]: 'plan v1' } });
    const provider = providerFor(emu);
    const ctx = driveContext(emu);
    const first = await syncOnce(provider, ctx, null);
    const signature = upserts(first.changes).find((i) => i.sourceId === doc)?.signature;

    emu.share(doc, 'reader@example.com');
    const shared = await syncOnce(provider, ctx, first.cursor);
    const afterShare = upserts(shared.changes).find((i) => i.sourceId === doc);
    expect(afterShare).toBeDefined();
    expect(emu.store.get(doc).version).toBeGreaterThan(1);
    expect(afterShare?.signature).toBe(signature);

    emu.update(doc, { exports: { [MIME.docx]: 'plan v2' } });
    const edited = await syncOnce(provider, ctx, shared.cursor);
    expect(upserts(edited.changes).find((i) => i.sourceId === doc)?.signature).not.toBe(signature);
  });
});
