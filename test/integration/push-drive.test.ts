import { describe, expect, it } from 'vitest';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { RunningService } from '../../src/service.js';
import { checkSubscriptionsSignal, pushKeeperWorkflowId } from '../../workflows/definitions.js';
import { DEFAULT_CLIENT, DEFAULT_USER, type DriveEmulator } from '../emulators/drive/index.js';
import { createConnector, freePort, waitFor } from '../support/integration.js';
import { subscribed, subscriptionsOf } from '../support/push.js';
import { documentsOf, syncViaNats } from '../support/service-harness.js';
import { serviceSuite } from '../support/service-suite.js';

/**
 * Drive push channels end to end: a changes.watch channel per change log,
 * Drive's `sync` message, a `change` message becoming a push pass, and a
 * channel replaced (a new one, then the old one stopped) before it expires.
 */

const port = await freePort();
const publicUrl = `http://127.0.0.1:${port}/push`;

let emu: DriveEmulator;
let service: RunningService;
let userId: number;

serviceSuite({ drive: true, env: { NOTIFICATION_PUBLIC_URL: publicUrl, NOTIFICATION_PORT: String(port) } }, (suite) => ({ drive: emu, service, userId } = suite));

const channelsOf = (connectorId: number) => subscriptionsOf(service, connectorId);

/** A Drive connector (the user's own grant) with push on, synced once, with its channel open. */
async function pushDriveConnector(): Promise<{ connectorId: number; channelId: string }> {
  const credential = await service.db
    .insertInto('google_credentials')
    .values({
      user_id: userId,
      refresh_token: emu.issueRefreshToken(DEFAULT_USER),
      granted_scopes: ['https://www.googleapis.com/auth/drive.readonly'],
      client_id: DEFAULT_CLIENT.clientId,
      client_secret: DEFAULT_CLIENT.clientSecret,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  emu.addFile(emu.myDrive(), 'first.txt', 'first', { mimeType: 'text/plain' });
  const connectorId = await createConnector(service.db, { type: 'google_drive', config: { push: true }, userId, googleCredentialId: credential.id });
  const row = await syncViaNats(service, 'connector.sync.google_drive', { connectorId, type: ConnectorType.GOOGLE_DRIVE, userId });
  expect(row.status).toBe('active');
  const [channel] = await subscribed(service, connectorId);
  return { connectorId, channelId: channel?.id ?? '' };
}

describe('push notifications end to end (Drive)', () => {
  it("opens a channel on the user's change log; the sync message asks for nothing, a change message makes a push pass", async () => {
    const { connectorId, channelId } = await pushDriveConnector();
    const [stored] = await channelsOf(connectorId);
    expect(stored).toMatchObject({ source: 'drive', kind: 'driveChanges', resource: 'user' });
    expect(emu.push.channels.get(channelId)?.address).toBe(`${publicUrl}/drive`);
    await emu.push.settled();
    await service.notifications?.idle();
    expect(emu.push.delivered.filter((d) => d.kind === 'sync').map((d) => d.status)).toEqual([200]);

    emu.addFile(emu.myDrive(), 'pushed.txt', 'arrived by push', { mimeType: 'text/plain' });
    const doc = await waitFor('the pushed change to be stored', async () => (await documentsOf(service, connectorId)).find((d) => d.title === 'pushed.txt'));
    expect(doc.status).toBe('pending');
    expect(service.counters.get('connector_push_notifications_accepted_total', { source: 'drive' })).toBeGreaterThanOrEqual(2);
    await service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId)).terminate('test over');
  });

  it('a change message with a forged channel token, or for a channel we never opened, starts nothing', async () => {
    const { connectorId, channelId } = await pushDriveConnector();
    const since = new Date();
    const rejected = (reason: string) => service.counters.get('connector_push_notifications_rejected_total', { source: 'drive', reason }) ?? 0;
    const [badSecret, unknown] = [rejected('bad_secret'), rejected('unknown_subscription')];
    const forge = (id: string, token: string) =>
      fetch(`${publicUrl}/drive`, {
        method: 'POST',
        headers: { 'x-goog-channel-id': id, 'x-goog-channel-token': token, 'x-goog-resource-state': 'change', 'x-goog-message-number': '7' },
      });
    const answers = [await forge(channelId, 'a-guessed-token'), await forge('a-channel-nobody-opened', 'a-guessed-token')];
    expect(answers.every((r) => r.status < 500)).toBe(true);
    await service.notifications?.idle();
    expect(rejected('bad_secret')).toBe(badSecret + 1);
    expect(rejected('unknown_subscription')).toBe(unknown + 1);
    let started = 0;
    const query = `ConnectorId = ${connectorId} AND WorkflowType = "syncConnector" AND StartTime > "${since.toISOString()}"`;
    for await (const _ of service.temporal.workflow.list({ query })) started++;
    expect(started).toBe(0);
    await service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId)).terminate('test over');
  });

  it('replaces a channel before it expires: a new one opened, then the old one stopped', async () => {
    const { connectorId, channelId } = await pushDriveConnector();
    await service.db
      .updateTable('connector_sync.push_subscriptions')
      .set({ expires_at: new Date(Date.now() + 3_600_000) })
      .where('id', '=', channelId)
      .execute();
    await service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId)).signal(checkSubscriptionsSignal);
    const [replacement] = await waitFor('the replacement channel', async () => {
      const rows = await channelsOf(connectorId);
      return rows.length === 1 && rows[0]?.id !== channelId ? rows : undefined;
    });
    expect(emu.push.channels.has(replacement?.id ?? '')).toBe(true);
    expect(emu.push.channels.has(channelId)).toBe(false);
    expect(service.counters.get('connector_push_renewals_total', { source: 'drive', outcome: 'replaced' })).toBeGreaterThanOrEqual(1);
    await service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId)).terminate('test over');
  });
});
