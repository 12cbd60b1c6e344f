import { describe, expect, it } from 'vitest';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { RunningService } from '../../src/service.js';
import { checkSubscriptionsSignal, pushKeeperWorkflowId, type PushKeeperResult } from '../../workflows/definitions.js';
import type { GraphEmulator } from '../emulators/graph/index.js';
import { createConnector, freePort, waitFor } from '../support/integration.js';
import { subscribed, subscriptionsOf as storedSubscriptions, waitForPushPass as pushPassOver } from '../support/push.js';
import { documentsOf, syncViaNats } from '../support/service-harness.js';
import { serviceSuite, type DocumentReader } from '../support/service-suite.js';

/**
 * Push notifications end to end: the Graph emulator's subscriptions, its
 * validation handshake and notifications, the service's notification endpoint,
 * the push keeper, and a sync pass that publishes the change.
 */

const port = await freePort();
const publicUrl = `http://127.0.0.1:${port}/push`;

let emulator: GraphEmulator;
let service: RunningService;
let reader: DocumentReader;
let userId: number;

serviceSuite(
  { graph: true, readerDrainMs: 500, env: { NOTIFICATION_PUBLIC_URL: publicUrl, NOTIFICATION_PORT: String(port) } },
  (suite) => ({ graph: emulator, service, reader, userId } = suite),
);

const subscriptionsOf = (connectorId: number) => storedSubscriptions(service, connectorId);
const waitForPushPass = (connectorId: number) => pushPassOver(service, connectorId);

const counter = (name: string, labels: Record<string, string>) => service.counters.get(name, labels);

/** syncConnector runs of the connector started by push, as the Web UI filters them. */
async function pushRuns(connectorId: number): Promise<number> {
  let n = 0;
  for await (const _ of service.temporal.workflow.list({ query: `ConnectorId = ${connectorId} AND SyncTrigger = "push" AND WorkflowType = "syncConnector"` })) n++;
  return n;
}

async function syncRunsStartedSince(connectorId: number, since: Date): Promise<number> {
  let n = 0;
  const query = `ConnectorId = ${connectorId} AND WorkflowType = "syncConnector" AND StartTime > "${since.toISOString()}"`;
  for await (const _ of service.temporal.workflow.list({ query })) n++;
  return n;
}

/** A OneDrive connector with push on, synced once through NATS (which starts its keeper), with its drive-root subscription made. */
async function pushConnector(): Promise<{ connectorId: number; subscriptionId: string }> {
  emulator.addFile('/', 'first.md', '# first');
  const connectorId = await createConnector(service.db, { type: 'onedrive', config: { drive_id: emulator.drive.id, push: true }, userId });
  const row = await syncViaNats(service, 'connector.sync.onedrive', { connectorId, type: ConnectorType.ONEDRIVE, userId });
  expect(row.status).toBe('active');
  const [sub] = await subscribed(service, connectorId);
  return { connectorId, subscriptionId: sub?.id ?? '' };
}

async function stopKeeper(connectorId: number): Promise<void> {
  await service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId)).terminate('test over').catch(() => undefined);
}

async function noSyncRunning(connectorId: number): Promise<void> {
  await waitFor('no sync of the connector running', async () => {
    for await (const _ of service.temporal.workflow.list({ query: `ConnectorId = ${connectorId} AND WorkflowType = "syncConnector" AND ExecutionStatus = "Running"` })) return false;
    return true;
  });
}

describe('push notifications end to end (Graph)', () => {
  it('subscribes the drive root through the validation handshake; a change notification makes a push pass that publishes the document', async () => {
    const { connectorId, subscriptionId } = await pushConnector();
    const [stored] = await subscriptionsOf(connectorId);
    expect(stored).toMatchObject({ source: 'graph', kind: 'driveItem', resource: `/drives/${emulator.drive.id}/root` });
    // Only the secret's digest is kept: the emulator holds the clientState, we do not.
    const live = emulator.push.subscriptions.get(subscriptionId);
    expect(live?.notificationUrl).toBe(`${publicUrl}/graph`);
    expect(JSON.stringify(stored)).not.toContain(live?.clientState ?? 'no client state');
    expect(counter('connector_push_validations_total', { source: 'graph' })).toBeGreaterThanOrEqual(1);
    await reader.drain(200);
    const runsBefore = await pushRuns(connectorId);

    emulator.addFile('/', 'policy.md', '# the new policy');
    const doc = await waitFor('the pushed change to be stored', async () => (await documentsOf(service, connectorId)).find((d) => d.title === 'policy.md'));
    expect(doc.status).toBe('pending');
    const published = await waitFor('its DocumentProcessRequest', async () => {
      const seen = await reader.drain(300);
      return seen.length > 0 ? seen : undefined;
    });
    expect(published.map((p) => p.request.documentId)).toContain(Number(doc.id));
    expect(await pushRuns(connectorId)).toBeGreaterThan(runsBefore);
    expect(counter('connector_push_notifications_accepted_total', { source: 'graph' })).toBeGreaterThanOrEqual(1);
    await stopKeeper(connectorId);
  });

  it('a notification with a forged clientState, or for an unknown subscription, starts nothing', async () => {
    const { connectorId, subscriptionId } = await pushConnector();
    const since = new Date();
    const forged = [
      { subscriptionId, clientState: 'a guess', changeType: 'updated', resource: 'drives/x/root' },
      { subscriptionId: '00000000-0000-0000-0000-000000000000', clientState: 'a guess' },
    ];
    const response = await fetch(`${publicUrl}/graph`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: forged }) });
    expect(response.status).toBe(202);
    const drive = await fetch(`${publicUrl}/drive`, {
      method: 'POST',
      headers: { 'x-goog-channel-id': subscriptionId, 'x-goog-channel-token': 'a guess', 'x-goog-resource-state': 'change' },
    });
    expect(drive.status).toBe(200);
    await service.notifications?.idle();
    expect(counter('connector_push_notifications_rejected_total', { source: 'graph', reason: 'bad_secret' })).toBeGreaterThanOrEqual(1);
    expect(counter('connector_push_notifications_rejected_total', { source: 'graph', reason: 'unknown_subscription' })).toBeGreaterThanOrEqual(1);
    expect(counter('connector_push_notifications_rejected_total', { source: 'drive', reason: 'unknown_subscription' })).toBeGreaterThanOrEqual(1);
    expect(await syncRunsStartedSince(connectorId, since)).toBe(0);
    await stopKeeper(connectorId);
  });

  it('renews a subscription once half its life is gone, before it expires', async () => {
    const { connectorId, subscriptionId } = await pushConnector();
    const before = emulator.push.subscriptions.get(subscriptionId)?.expiresAt ?? 0;
    // Time passes: the stored expiry is an hour away, far under half of the 29 days asked for.
    await service.db
      .updateTable('connector_sync.push_subscriptions')
      .set({ expires_at: new Date(Date.now() + 3_600_000) })
      .where('id', '=', subscriptionId)
      .execute();
    await service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId)).signal(checkSubscriptionsSignal);
    const renewed = await waitFor('the renewal', async () => (await subscriptionsOf(connectorId)).find((s) => s.renewed_at !== null));
    expect(renewed.id).toBe(subscriptionId);
    expect(new Date(renewed.expires_at).getTime()).toBeGreaterThan(Date.now() + 20 * 24 * 3_600_000);
    expect(emulator.push.subscriptions.get(subscriptionId)?.expiresAt ?? 0).toBeGreaterThanOrEqual(before);
    expect(counter('connector_push_renewals_total', { source: 'graph', outcome: 'renewed' })).toBeGreaterThanOrEqual(1);
    await stopKeeper(connectorId);
  });

  it('a subscription the source lost is made again, and a pass covers what it may have missed', async () => {
    const { connectorId, subscriptionId } = await pushConnector();
    emulator.push.subscriptions.delete(subscriptionId);
    // The renewal finds it gone (404): created again, and a pass asked for.
    await service.db
      .updateTable('connector_sync.push_subscriptions')
      .set({ expires_at: new Date(Date.now() + 60_000) })
      .where('id', '=', subscriptionId)
      .execute();
    const since = new Date();
    await service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId)).signal(checkSubscriptionsSignal);
    const replaced = await waitFor('a new subscription', async () => (await subscriptionsOf(connectorId)).find((s) => s.id !== subscriptionId));
    expect(emulator.push.subscriptions.has(replaced.id)).toBe(true);
    await waitFor('the pass the keeper asked for', async () => (await syncRunsStartedSince(connectorId, since)) > 0);
    await stopKeeper(connectorId);
  });

  it('a disabled connector loses its subscriptions at the source and its keeper ends, saying why', async () => {
    const { connectorId, subscriptionId } = await pushConnector();
    await service.db.updateTable('connectors').set({ status: 'disabled' }).where('id', '=', connectorId).execute();
    const keeper = service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId));
    await keeper.signal(checkSubscriptionsSignal);
    const result = (await keeper.result()) as PushKeeperResult;
    expect(result).toEqual({ connectorId, reason: `connector ${connectorId} is disabled`, removed: 1 });
    expect(emulator.push.subscriptions.has(subscriptionId)).toBe(false);
    expect(await subscriptionsOf(connectorId)).toEqual([]);
  });

  it('a deleted connector (EchoMind sets deleted_date) loses its subscriptions at the source and its keeper ends, saying why', async () => {
    const { connectorId, subscriptionId } = await pushConnector();
    // Deleted, not disabled: the status stays active, as EchoMind's soft delete leaves it.
    await service.db.updateTable('connectors').set({ deleted_date: new Date() }).where('id', '=', connectorId).execute();
    const keeper = service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId));
    await keeper.signal(checkSubscriptionsSignal);
    const result = (await keeper.result()) as PushKeeperResult;
    expect(result).toEqual({ connectorId, reason: `connector ${connectorId} was deleted`, removed: 1 });
    expect(emulator.push.subscriptions.has(subscriptionId)).toBe(false);
    expect(await subscriptionsOf(connectorId)).toEqual([]);
  });

  it("a connector whose row is gone: its keeper forgets the subscriptions and ends; the source's notifications until they expire start nothing", async () => {
    const { connectorId, subscriptionId } = await pushConnector();
    const rejectedBefore = counter('connector_push_notifications_rejected_total', { source: 'graph', reason: 'unknown_subscription' });
    const deliveredTo = () => emulator.push.delivered.filter((d) => d.subscriptionId === subscriptionId && d.kind === 'notification' && d.status === 202).length;
    const deliveredBefore = deliveredTo();
    await service.db.deleteFrom('documents').where('connector_id', '=', connectorId).execute();
    await service.db.deleteFrom('connectors').where('id', '=', connectorId).execute();
    const keeper = service.temporal.workflow.getHandle(pushKeeperWorkflowId(connectorId));
    await keeper.signal(checkSubscriptionsSignal);
    const result = (await keeper.result()) as PushKeeperResult;
    expect(result).toEqual({ connectorId, reason: `connector ${connectorId} no longer exists`, removed: 1 });
    expect(await subscriptionsOf(connectorId)).toEqual([]);
    // Without the row there is no identity to delete it with at the source: it lives on until it expires.
    expect(emulator.push.subscriptions.has(subscriptionId)).toBe(true);
    const since = new Date();
    emulator.addFile('/', 'after-delete.md', '# written after the connector was deleted');
    await emulator.push.settled();
    await service.notifications?.idle();
    // The source did notify, and the endpoint answered as Graph requires, but nothing was started.
    expect(deliveredTo()).toBeGreaterThan(deliveredBefore);
    expect(counter('connector_push_notifications_rejected_total', { source: 'graph', reason: 'unknown_subscription' })).toBeGreaterThan(rejectedBefore);
    expect(await syncRunsStartedSince(connectorId, since)).toBe(0);
    emulator.push.subscriptions.delete(subscriptionId);
  });

  it('with every notification dropped, nothing is lost: the next request brings the change', async () => {
    const { connectorId } = await pushConnector();
    emulator.push.configure({ dropAll: true });
    emulator.addFile('/', 'dropped.md', '# never notified');
    await emulator.push.settled();
    expect(emulator.push.dropped.length).toBeGreaterThan(0);
    expect((await documentsOf(service, connectorId)).map((d) => d.title)).not.toContain('dropped.md');
    const row = await syncViaNats(service, 'connector.sync.onedrive', { connectorId, type: ConnectorType.ONEDRIVE, userId });
    expect(row.status).toBe('active');
    expect((await documentsOf(service, connectorId)).map((d) => d.title)).toContain('dropped.md');
    await stopKeeper(connectorId);
  });

  it('Teams: subscribes each channel with a lifecycle URL; reauthorizationRequired renews, missed asks for a pass, subscriptionRemoved subscribes again', async () => {
    const team = emulator.teams.addTeam('Launch');
    const general = emulator.teams.addChannel(team.id, 'General');
    emulator.teams.post(general, { at: new Date(Date.now() - 20 * 60_000), subject: 'Kickoff', html: '<p>first</p>' });
    const connectorId = await createConnector(service.db, { type: 'teams', config: { team_id: team.id, push: true }, userId });
    const row = await syncViaNats(service, 'connector.sync.teams', { connectorId, type: ConnectorType.TEAMS, userId });
    expect(row.status).toBe('active');
    const messages = `/teams/${team.id}/channels/${general.id}/messages`;
    const subs = await subscribed(service, connectorId, 2);
    expect(subs).toHaveLength(2);
    expect(subs.map((r) => [r.kind, r.resource.startsWith('/drives/') ? '/drives/…/root' : r.resource]).sort()).toEqual([
      ['channelMessages', messages],
      ['driveItem', '/drives/…/root'],
    ]);
    await waitForPushPass(connectorId);
    const channelSub = subs.find((r) => r.kind === 'channelMessages');
    const id = channelSub?.id ?? '';
    expect(emulator.push.subscriptions.get(id)?.lifecycleNotificationUrl).toBe(`${publicUrl}/graph/lifecycle`);

    expect(emulator.push.fireLifecycle(id, 'reauthorizationRequired')).toBe(true);
    await waitFor('the renewal asked for', async () => (await subscriptionsOf(connectorId)).find((r) => r.id === id && r.renewed_at !== null));
    expect(emulator.push.subscriptions.get(id)?.reauthorizationRequired).toBe(false);

    // A pass still running (the first check may have subscribed before the cursor named the library) would take the request as an extra pass.
    await noSyncRunning(connectorId);
    const beforeMissed = new Date();
    emulator.push.fireLifecycle(id, 'missed');
    await waitFor('the pass after missed notifications', async () => (await syncRunsStartedSince(connectorId, beforeMissed)) > 0);

    emulator.push.fireLifecycle(id, 'subscriptionRemoved');
    const again = await waitFor('the channel subscribed again', async () =>
      (await subscriptionsOf(connectorId)).find((r) => r.kind === 'channelMessages' && r.id !== id),
    );
    expect(again.resource).toBe(messages);
    expect(emulator.push.subscriptions.has(again.id)).toBe(true);
    await stopKeeper(connectorId);
  });
});
