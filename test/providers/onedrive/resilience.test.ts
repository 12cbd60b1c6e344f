import { beforeEach, describe, expect, it } from 'vitest';
import { CursorExpiredError, ScopeGoneError, SourceProtocolError, ThrottledError } from '../../../src/errors.js';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { oneDriveContext, providerFor, upsertNames, walk, useGraphEmulator } from './harness.js';

let emulator: GraphEmulator;

useGraphEmulator((e) => (emulator = e));
beforeEach(() => {
  emulator.addFile('/', 'a.txt', 'a');
});

const deltaCalls = () => emulator.requests.filter((r) => r.path.endsWith('/root/delta'));

describe('OneDrive listing under throttling and faults', () => {
  it('restarts the enumeration when the saved delta link answers 404 but the drive still exists', async () => {
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const { cursor } = await walk(provider, ctx, null);
    emulator.loseDeltaTokens();

    const error: unknown = await provider.listChanges(ctx, cursor).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(CursorExpiredError); // the pipeline enumerates again and sweeps
    expect(emulator.requests.at(-1)).toMatchObject({ path: `/v1.0/drives/${emulator.drive.id}`, status: 200 });
  });

  it('ends with "the drive no longer exists" only when the drive itself answers 404 too', async () => {
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const { cursor } = await walk(provider, ctx, null);
    emulator.loseDeltaTokens();
    emulator.faults.push({ match: new RegExp(`^/v1\\.0/drives/${emulator.drive.id.replace(/[!]/g, '\\$&')}$`), status: 404 });

    const error: unknown = await provider.listChanges(ctx, cursor).catch((e: unknown) => e);

    // A scope gone: the pipeline adds how many documents are still indexed (test/integration/onedrive-sync.test.ts).
    expect(error).toBeInstanceOf(ScopeGoneError);
    expect(error).toMatchObject({ code: 'driveNotFound', scope: 'sync', message: 'the drive no longer exists or is no longer shared with this connector' });
    expect((error as ScopeGoneError).remedy).toMatch(/give this app access to it again, or point the connector at another drive/);
  });

  it('waits out a 429 with Retry-After in seconds, then succeeds', async () => {
    emulator.faults.push({ match: /\/root\/delta$/, status: 429, retryAfter: '1' });
    const started = Date.now();

    const { changes } = await walk(providerFor(emulator), oneDriveContext(emulator), null);

    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(upsertNames(changes)).toEqual(['a.txt']);
    expect(deltaCalls().map((r) => r.status)).toEqual([429, 200]);
  });

  it('waits out a 429 with Retry-After as an HTTP-date, then succeeds', async () => {
    const at = new Date(Date.now() + 2000);
    emulator.faults.push({ match: /\/root\/delta$/, status: 429, retryAfter: at.toUTCString() });

    const { changes } = await walk(providerFor(emulator), oneDriveContext(emulator), null);

    // HTTP-dates have whole seconds: the wait ends at that second, not before.
    expect(Date.now()).toBeGreaterThanOrEqual(Math.floor(at.getTime() / 1000) * 1000 - 50);
    expect(upsertNames(changes)).toEqual(['a.txt']);
    expect(deltaCalls().map((r) => r.status)).toEqual([429, 200]);
  });

  it('hands a long Retry-After to Temporal as ThrottledError instead of sleeping in the activity', async () => {
    emulator.faults.push({ match: /\/root\/delta$/, status: 503, retryAfter: '120' });
    const error: unknown = await providerFor(emulator)
      .listChanges(oneDriveContext(emulator), null)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).retryAfterMs).toBe(120_000);
  });

  it('retries 503 without Retry-After and a locked 423 with backoff', async () => {
    emulator.faults.push({ match: /\/root\/delta$/, status: 503 }, { match: /\/root\/delta$/, status: 423 });
    const { changes } = await walk(providerFor(emulator), oneDriveContext(emulator), null);
    expect(upsertNames(changes)).toEqual(['a.txt']);
    expect(deltaCalls().map((r) => r.status)).toEqual([503, 423, 200]);
  });

  it('stops the sync on 507 insufficientStorage', async () => {
    emulator.faults.push({ match: /\/root\/delta$/, status: 507 });
    await expect(providerFor(emulator).listChanges(oneDriveContext(emulator), null)).rejects.toMatchObject({
      name: 'PermanentSourceError',
      scope: 'sync',
      code: 'insufficientStorage' });
  });

  it('stops the sync when the drive listing is refused (403)', async () => {
    emulator.faults.push({ match: /\/root\/delta$/, status: 403, message: 'Access denied to this drive.' });
    await expect(providerFor(emulator).listChanges(oneDriveContext(emulator), null)).rejects.toMatchObject({
      name: 'PermanentSourceError',
      scope: 'sync',
      code: 'accessDenied',
      message: expect.stringContaining('Access denied to this drive.') });
  });

  it('retries a connection reset before any answer', async () => {
    emulator.faults.push({ match: /\/root\/delta$/, reset: true });
    const { changes } = await walk(providerFor(emulator), oneDriveContext(emulator), null);
    expect(upsertNames(changes)).toEqual(['a.txt']);
    expect(deltaCalls().map((r) => r.status)).toEqual([0, 200]);
  });

  it('fails, not silently, when every attempt is reset', async () => {
    emulator.faults.push({ match: /\/root\/delta$/, reset: true, times: 100 });
    await expect(providerFor(emulator).listChanges(oneDriveContext(emulator), null)).rejects.toThrow(/could not reach 127\.0\.0\.1:\d+ \(/);
  });

  it('fails on a truncated listing instead of reading half a page', async () => {
    emulator.faults.push({ match: /\/root\/delta$/, truncate: true });
    await expect(providerFor(emulator).listChanges(oneDriveContext(emulator), null)).rejects.toThrow(
      /^GET http:\/\/127\.0\.0\.1:\d+\/v1\.0\/drives\/[^ ]+\/root\/delta answered 200 but its body was cut short \(other side closed\)$/,
    );
  });

  it('throws SourceProtocolError on a 200 that is not JSON', async () => {
    emulator.faults.push({ match: /\/root\/delta$/, garbage: true });
    const error: unknown = await providerFor(emulator)
      .listChanges(oneDriveContext(emulator), null)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceProtocolError);
    expect((error as Error).message).toMatch(/not JSON/);
  });

  it('throws SourceProtocolError on JSON that is not a delta page', async () => {
    const provider = providerFor(emulator);
    const ctx = oneDriveContext(emulator);
    const { cursor } = await walk(provider, ctx, null);
    const broken = { ...cursor, link: `${emulator.graphBaseUrl}/drives/${encodeURIComponent(emulator.drive.id)}` }; // answers a drive, not a page
    await expect(provider.listChanges(ctx, broken)).rejects.toThrow(SourceProtocolError);
  });
});
