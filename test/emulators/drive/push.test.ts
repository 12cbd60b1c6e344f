import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DriveClient } from '../../../src/providers/google-drive/client.js';
import type { GoogleCredential, GoogleCredentialStore } from '../../../src/providers/google-drive/credentials.js';
import { openDriveSession } from '../../../src/providers/google-drive/session.js';
import { DRIVE_CHANNEL_MAX_MS, stopDriveChannel, watchDriveChanges } from '../../../src/providers/google-drive/watch.js';
import { credentialRow, driveContext, settingsFor } from '../../providers/google-drive/harness.js';
import { type PushListener, startPushListener } from '../push-listener.js';
import { type DriveEmulator, fault, startDriveEmulator } from './index.js';

/** Drive push channels against the emulator: the client functions, expiry, sync and change messages, and delivery faults. */

let emu: DriveEmulator;
let client: DriveClient;
let listener: PushListener;
let channelNumber = 0;

beforeAll(async () => {
  emu = await startDriveEmulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  emu.reset();
  let row: GoogleCredential | null = credentialRow(emu);
  const credentials: GoogleCredentialStore = {
    load: () => Promise.resolve(row),
    save(_owner, update) {
      if (row) row = { ...row, accessToken: update.accessToken, expiresAt: update.expiresAt, refreshToken: update.refreshToken ?? row.refreshToken };
      return Promise.resolve();
    },
  };
  client = (await openDriveSession(driveContext(emu), settingsFor(emu), credentials)).client;
  listener = await startPushListener();
});
afterEach(async () => {
  await listener.close();
});

const TOKEN = 'channel-token-secret';
const header = (r: { headers: Record<string, string | string[] | undefined> } | undefined, name: string) => r?.headers[name];

async function watch(options: { driveId?: string; expirationMs?: number } = {}) {
  const pageToken = await client.startPageToken(options.driveId);
  return watchDriveChanges(client, {
    id: `channel-${++channelNumber}`,
    token: TOKEN,
    address: listener.url,
    expirationMs: options.expirationMs ?? Date.now() + 60 * 60_000,
    pageToken,
    ...(options.driveId ? { driveId: options.driveId } : {}),
  });
}

describe('Drive channels (client functions against the emulator)', () => {
  it('opens a channel: a sync message first, then a change message with our token and a higher number', async () => {
    const channel = await watch();
    expect(channel).toMatchObject({ id: `channel-${channelNumber}`, token: TOKEN });
    expect(channel.resourceId).not.toBe('');
    const [sync] = await listener.arrivals(1);
    expect(header(sync, 'x-goog-resource-state')).toBe('sync');
    expect(header(sync, 'x-goog-message-number')).toBe('1');
    expect(header(sync, 'x-goog-channel-id')).toBe(channel.id);
    expect(header(sync, 'x-goog-channel-token')).toBe(TOKEN);
    expect(header(sync, 'x-goog-resource-id')).toBe(channel.resourceId);

    emu.addFile(emu.myDrive(), 'policy.pdf', 'v1');
    const [, change] = await listener.arrivals(2);
    expect(header(change, 'x-goog-resource-state')).toBe('change');
    expect(header(change, 'x-goog-message-number')).toBe('2');
    expect(header(change, 'x-goog-channel-token')).toBe(TOKEN);
    expect(change?.body).toBe('');
  });

  it('stops a channel: no more messages, and stopping it again resolves', async () => {
    const channel = await watch();
    await listener.arrivals(1);
    await stopDriveChannel(client, channel);
    await expect(stopDriveChannel(client, channel)).resolves.toBeUndefined();
    emu.addFile(emu.myDrive(), 'unheard.txt', 'x');
    await emu.push.settled();
    expect(listener.received).toHaveLength(1);
  });

  it('caps the expiration at one week and answers it as epoch ms', async () => {
    const now = Date.parse('2026-12-04T12:00:00Z');
    emu.push.clock = () => now;
    const channel = await watch({ expirationMs: now + 30 * 24 * 60 * 60_000 });
    expect(channel.expiration).toBe(now + DRIVE_CHANNEL_MAX_MS);
    const shorter = await watch({ expirationMs: now + 60_000 });
    expect(shorter.expiration).toBe(now + 60_000);
  });

  it('an expired channel sends nothing and is already gone when stopped', async () => {
    const channel = await watch();
    await listener.arrivals(1);
    emu.push.clock = () => channel.expiration + 1;
    emu.addFile(emu.myDrive(), 'late.txt', 'x');
    await emu.push.settled();
    expect(listener.received).toHaveLength(1);
    await expect(stopDriveChannel(client, channel)).resolves.toBeUndefined();
  });

  it('opens a channel through a rate-limited answer: the shared HTTP layer retries', async () => {
    emu.fail({ method: 'POST', path: '/drive/v3/changes/watch', reply: fault.rateLimited() });
    const channel = await watch();
    expect(channel.resourceId).not.toBe('');
    expect(emu.requestsTo('/drive/v3/changes/watch').map((r) => r.status)).toEqual([403, 200]);
  });

  it('refuses a channel id already in use', async () => {
    const channel = await watch();
    const pageToken = await client.startPageToken();
    await expect(watchDriveChanges(client, { id: channel.id, token: TOKEN, address: listener.url, expirationMs: Date.now() + 60_000, pageToken })).rejects.toThrow(/answered 400/);
  });

  it("watches one shared drive's log: its changes are notified, My Drive's are not", async () => {
    const driveId = emu.addSharedDrive('Policies');
    const channel = await watch({ driveId });
    expect(channel.driveId).toBe(driveId);
    await listener.arrivals(1);
    emu.addFile(emu.myDrive(), 'mine.txt', 'x');
    await emu.push.settled();
    expect(listener.received).toHaveLength(1);
    emu.addFile(driveId, 'shared.txt', 'x');
    const [, change] = await listener.arrivals(2);
    expect(header(change, 'x-goog-resource-state')).toBe('change');
  });
});

describe('Drive delivery faults', () => {
  async function openAndSync() {
    const channel = await watch();
    await listener.arrivals(1);
    return channel;
  }

  it('drops everything when told to, the sync message included', async () => {
    emu.push.configure({ dropAll: true });
    await watch();
    emu.addFile(emu.myDrive(), 'a.txt', 'x');
    await emu.push.settled();
    expect(listener.received).toHaveLength(0);
    expect(emu.push.dropped.map((m) => m.kind)).toEqual(['sync', 'change']);
  });

  it('duplicates: a change message arrives twice with the same message number', async () => {
    await openAndSync();
    emu.push.configure({ duplicates: 1 });
    emu.addFile(emu.myDrive(), 'a.txt', 'x');
    const [, first, second] = await listener.arrivals(3);
    expect(header(first, 'x-goog-message-number')).toBe('2');
    expect(header(second, 'x-goog-message-number')).toBe('2');
  });

  it('reorders: message numbers arrive out of order', async () => {
    await openAndSync();
    emu.push.configure({ reorderWindow: 2 });
    emu.addFile(emu.myDrive(), 'a.txt', 'x');
    await emu.push.settled();
    emu.addFile(emu.myDrive(), 'b.txt', 'x');
    const received = await listener.arrivals(3);
    expect(received.map((r) => header(r, 'x-goog-message-number'))).toEqual(['1', '3', '2']);
  });

  it('delays every message without losing or reordering any', async () => {
    await openAndSync();
    emu.push.configure({ delayMs: 50 });
    emu.addFile(emu.myDrive(), 'a.txt', 'x');
    await emu.push.settled();
    emu.addFile(emu.myDrive(), 'b.txt', 'x');
    const received = await listener.arrivals(3);
    expect(received.map((r) => header(r, 'x-goog-message-number'))).toEqual(['1', '2', '3']);
  });
});
