import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, PermanentSourceError } from '../../../src/errors.js';
import { type GraphClient, graphClient } from '../../../src/providers/microsoft-graph/client.js';
import {
  createGraphSubscription,
  deleteGraphSubscription,
  GRAPH_SUBSCRIPTION_MAX_MINUTES,
  renewGraphSubscription,
} from '../../../src/providers/microsoft-graph/subscriptions.js';
import { oneDriveContext } from '../../providers/onedrive/harness.js';
import { type PushListener, startPushListener } from '../push-listener.js';
import { EMULATOR_TENANT, type GraphEmulator, startGraphEmulator } from './index.js';

/** Graph change notifications against the emulator: the client functions, the handshake, the limits, delivery and its faults. */

let emulator: GraphEmulator;
let client: GraphClient;
let listener: PushListener;
let lifecycle: PushListener;

beforeAll(async () => {
  emulator = await startGraphEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(async () => {
  emulator.reset();
  client = graphClient(oneDriveContext(emulator), emulator.settings);
  listener = await startPushListener();
  lifecycle = await startPushListener();
});
afterEach(async () => {
  await listener.close();
  await lifecycle.close();
});

const SECRET = 'client-state-secret-1';
const inMinutes = (minutes: number): string => new Date(Date.now() + minutes * 60_000).toISOString();

function subscribeDrive(expirationDateTime = inMinutes(24 * 60)) {
  return createGraphSubscription(client, {
    resource: `/drives/${emulator.drive.id}/root`,
    changeType: 'updated',
    notificationUrl: listener.url,
    clientState: SECRET,
    expirationDateTime,
  });
}

function channelFixture() {
  const team = emulator.teams.addTeam('Policies');
  const channel = emulator.teams.addChannel(team.id, 'General');
  return { team, channel, resource: `/teams/${team.id}/channels/${channel.id}/messages` };
}

interface Notification {
  subscriptionId: string;
  clientState: string | null;
  changeType: string;
  resource: string;
  subscriptionExpirationDateTime: string;
  tenantId: string;
  lifecycleEvent?: string;
}

const notificationsOf = (received: Array<{ body: string }>): Notification[] => received.flatMap((r) => (JSON.parse(r.body) as { value: Notification[] }).value);

describe('Graph subscriptions (client functions against the emulator)', () => {
  it('creates a drive root subscription after the endpoint echoes the validation token, and a change is notified with our clientState', async () => {
    const sub = await subscribeDrive();
    expect(sub).toMatchObject({ resource: `/drives/${emulator.drive.id}/root`, changeType: 'updated', clientState: SECRET });
    expect(listener.validations).toHaveLength(1);
    // Graph's tokens hold spaces and colons: the endpoint must hand back the decoded text.
    expect(listener.validations[0]?.token).toMatch(/^Validation: Testing client application reachability/);
    expect(listener.validations[0]?.contentType).toMatch(/^text\/plain/);

    emulator.addFile('/', 'policy.docx', 'v1');
    const [delivery] = await listener.arrivals(1);
    expect(notificationsOf([delivery!])).toEqual([
      {
        subscriptionId: sub.id,
        clientState: SECRET,
        changeType: 'updated',
        resource: sub.resource,
        subscriptionExpirationDateTime: sub.expirationDateTime,
        tenantId: EMULATOR_TENANT,
      },
    ]);
  });

  it('changes made in one step are one notification; another step is another', async () => {
    await subscribeDrive();
    emulator.addFolder('/', 'A');
    emulator.addFile('/A', 'one.txt', '1');
    emulator.addFile('/A', 'two.txt', '2');
    await emulator.push.settled();
    expect(listener.received).toHaveLength(1);
    emulator.rename('/A/one.txt', 'uno.txt');
    await emulator.push.settled();
    expect(listener.received).toHaveLength(2);
  });

  it("subscribes to a team's library as its group's drive root; the emulator records each delivery's answer", async () => {
    const { team } = channelFixture();
    const sub = await createGraphSubscription(client, {
      resource: `/groups/${team.id}/drive/root`,
      changeType: 'updated',
      notificationUrl: listener.url,
      clientState: SECRET,
      expirationDateTime: inMinutes(60),
    });
    emulator.addFile('/', 'team-file.docx', 'x', { driveId: team.driveId });
    expect(notificationsOf(await listener.arrivals(1))[0]?.subscriptionId).toBe(sub.id);
    await emulator.push.settled();
    expect(emulator.push.delivered).toEqual([expect.objectContaining({ kind: 'notification', status: 202, answeredInMs: expect.any(Number) as number })]);
  });

  it('renews to a later expiry, and refuses one past the driveItem maximum', async () => {
    const sub = await subscribeDrive(inMinutes(60));
    const later = inMinutes(GRAPH_SUBSCRIPTION_MAX_MINUTES.driveItem - 10);
    const renewed = await renewGraphSubscription(client, sub.id, later);
    expect(renewed.id).toBe(sub.id);
    expect(Date.parse(renewed.expirationDateTime)).toBe(Date.parse(later));
    await expect(renewGraphSubscription(client, sub.id, inMinutes(GRAPH_SUBSCRIPTION_MAX_MINUTES.driveItem + 10))).rejects.toBeInstanceOf(PermanentSourceError);
  });

  it('renews through a throttled answer: the shared HTTP layer waits out Retry-After and tries again', async () => {
    const sub = await subscribeDrive(inMinutes(60));
    emulator.faults.push({ match: (r) => r.method === 'PATCH' && r.path.startsWith('/v1.0/subscriptions/'), status: 503, retryAfter: '0' });
    const renewed = await renewGraphSubscription(client, sub.id, inMinutes(120));
    expect(renewed.id).toBe(sub.id);
    expect(emulator.requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([503, 200]);
  });

  it('deletes a subscription; deleting it again resolves, renewing it is not found, and changes reach nobody', async () => {
    const sub = await subscribeDrive();
    await deleteGraphSubscription(client, sub.id);
    await expect(deleteGraphSubscription(client, sub.id)).resolves.toBeUndefined();
    await expect(renewGraphSubscription(client, sub.id, inMinutes(120))).rejects.toBeInstanceOf(NotFoundError);
    emulator.addFile('/', 'late.txt', 'x');
    await emulator.push.settled();
    expect(listener.received).toHaveLength(0);
  });

  it.each(['refuse', 'wrong'] as const)('fails the create when the endpoint does not echo the token (%s), and keeps no subscription', async (answer) => {
    listener.validation = answer;
    await expect(subscribeDrive()).rejects.toThrow(/validation request failed/);
    expect(emulator.push.subscriptions.size).toBe(0);
  });

  it('fails the create when the endpoint does not answer the handshake in time', async () => {
    listener.validation = 'silent';
    emulator.push.validationTimeoutMs = 200;
    const created = subscribeDrive();
    await expect(created).rejects.toBeInstanceOf(PermanentSourceError);
    await expect(created).rejects.toThrow(/no answer within 200 ms/);
  });

  it('refuses a clientState longer than 128 characters', async () => {
    await expect(
      createGraphSubscription(client, { resource: `/drives/${emulator.drive.id}/root`, changeType: 'updated', notificationUrl: listener.url, clientState: 'x'.repeat(129), expirationDateTime: inMinutes(60) }),
    ).rejects.toThrow(/clientState must be a string of at most 128 characters/);
  });

  it('refuses a drive root subscription past 42,300 minutes or for another change type than updated', async () => {
    await expect(subscribeDrive(inMinutes(GRAPH_SUBSCRIPTION_MAX_MINUTES.driveItem + 5))).rejects.toThrow(/can only be 42300 minutes/);
    await expect(
      createGraphSubscription(client, { resource: `/drives/${emulator.drive.id}/root`, changeType: 'created,updated', notificationUrl: listener.url, clientState: SECRET, expirationDateTime: inMinutes(60) }),
    ).rejects.toBeInstanceOf(PermanentSourceError);
    expect(listener.validations).toHaveLength(0);
  });

  it('asks a channel subscription for a lifecycle URL past one hour, validates that URL too, and caps it at 4,320 minutes', async () => {
    const { resource } = channelFixture();
    const input = { resource, changeType: 'created,updated,deleted', notificationUrl: listener.url, clientState: SECRET };
    await expect(createGraphSubscription(client, { ...input, expirationDateTime: inMinutes(120) })).rejects.toThrow(/lifecycleNotificationUrl is a required property/);
    // Under an hour it needs none (the emulator raises it to Graph's 45-minute floor).
    await expect(createGraphSubscription(client, { ...input, expirationDateTime: inMinutes(50) })).resolves.toMatchObject({ resource });
    await expect(
      createGraphSubscription(client, { ...input, lifecycleNotificationUrl: lifecycle.url, expirationDateTime: inMinutes(GRAPH_SUBSCRIPTION_MAX_MINUTES.channelMessages + 5) }),
    ).rejects.toThrow(/can only be 4320 minutes/);
    lifecycle.validation = 'refuse';
    await expect(createGraphSubscription(client, { ...input, lifecycleNotificationUrl: lifecycle.url, expirationDateTime: inMinutes(3 * 24 * 60) })).rejects.toThrow(/validation request failed/);
    lifecycle.validation = 'echo';
    const sub = await createGraphSubscription(client, { ...input, lifecycleNotificationUrl: lifecycle.url, expirationDateTime: inMinutes(3 * 24 * 60) });
    expect(lifecycle.validations.length).toBeGreaterThanOrEqual(2);
    expect(emulator.push.subscriptions.get(sub.id)?.lifecycleNotificationUrl).toBe(lifecycle.url);
  });
});

describe('Graph notifications for channel messages', () => {
  it('notifies a created, an edited and a deleted message, each with its own resource; a created-only subscription hears only the first', async () => {
    const { channel, resource } = channelFixture();
    const all = await createGraphSubscription(client, { resource, changeType: 'created,updated,deleted', notificationUrl: listener.url, clientState: SECRET, expirationDateTime: inMinutes(50) });
    const createdOnly = await createGraphSubscription(client, { resource, changeType: 'created', notificationUrl: lifecycle.url, clientState: 'other-secret', expirationDateTime: inMinutes(50) });
    const message = emulator.teams.post(channel, { html: '<p>hello</p>' });
    await emulator.push.settled();
    emulator.teams.edit(channel, message.id, '<p>hello again</p>');
    await emulator.push.settled();
    const reply = emulator.teams.reply(channel, message.id, { html: '<p>answer</p>' });
    await emulator.push.settled();
    emulator.teams.deleteMessage(channel, reply.id);
    const received = notificationsOf(await listener.arrivals(4));
    const base = `teams('${channel.teamId}')/channels('${channel.id}')`;
    expect(received.map((n) => [n.changeType, n.resource, n.subscriptionId])).toEqual([
      ['created', `${base}/messages('${message.id}')`, all.id],
      ['updated', `${base}/messages('${message.id}')`, all.id],
      ['created', `${base}/messages('${message.id}')/replies('${reply.id}')`, all.id],
      ['deleted', `${base}/messages('${message.id}')/replies('${reply.id}')`, all.id],
    ]);
    await emulator.push.settled();
    expect(notificationsOf(lifecycle.received).map((n) => [n.changeType, n.subscriptionId, n.clientState])).toEqual([
      ['created', createdOnly.id, 'other-secret'],
      ['created', createdOnly.id, 'other-secret'],
    ]);
  });
});

describe('Graph lifecycle events and expiry', () => {
  async function channelSubscription() {
    const { channel, resource } = channelFixture();
    const sub = await createGraphSubscription(client, {
      resource,
      changeType: 'created,updated,deleted',
      notificationUrl: listener.url,
      lifecycleNotificationUrl: lifecycle.url,
      clientState: SECRET,
      expirationDateTime: inMinutes(2 * 24 * 60),
    });
    return { channel, sub };
  }

  it.each(['missed', 'reauthorizationRequired'] as const)('sends %s to the lifecycle URL with our clientState; the subscription keeps notifying', async (event) => {
    const { channel, sub } = await channelSubscription();
    expect(emulator.push.fireLifecycle(sub.id, event)).toBe(true);
    const [sent] = notificationsOf(await lifecycle.arrivals(1));
    expect(sent).toMatchObject({ subscriptionId: sub.id, lifecycleEvent: event, clientState: SECRET, tenantId: EMULATOR_TENANT });
    emulator.teams.post(channel, { html: '<p>still here</p>' });
    expect(notificationsOf(await listener.arrivals(1))[0]?.subscriptionId).toBe(sub.id);
    if (event === 'reauthorizationRequired') {
      expect(emulator.push.subscriptions.get(sub.id)?.reauthorizationRequired).toBe(true);
      await renewGraphSubscription(client, sub.id, inMinutes(3 * 24 * 60));
      expect(emulator.push.subscriptions.get(sub.id)?.reauthorizationRequired).toBe(false);
    }
  });

  it('subscriptionRemoved ends the subscription: no more notifications, renewal not found', async () => {
    const { channel, sub } = await channelSubscription();
    emulator.push.fireLifecycle(sub.id, 'subscriptionRemoved');
    expect(notificationsOf(await lifecycle.arrivals(1))[0]?.lifecycleEvent).toBe('subscriptionRemoved');
    emulator.teams.post(channel, { html: '<p>unheard</p>' });
    await emulator.push.settled();
    expect(listener.received).toHaveLength(0);
    await expect(renewGraphSubscription(client, sub.id, inMinutes(60 * 24))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a subscription without a lifecycle URL gets no lifecycle event', async () => {
    const sub = await subscribeDrive();
    expect(emulator.push.fireLifecycle(sub.id, 'missed')).toBe(false);
    await emulator.push.settled();
    expect(emulator.push.delivered).toHaveLength(0);
  });

  it('an expired subscription notifies nothing and cannot be renewed', async () => {
    const sub = await subscribeDrive(inMinutes(60));
    const expiry = Date.parse(sub.expirationDateTime);
    emulator.push.clock = () => expiry + 1;
    emulator.addFile('/', 'after-expiry.txt', 'x');
    await emulator.push.settled();
    expect(listener.received).toHaveLength(0);
    await expect(renewGraphSubscription(client, sub.id, new Date(expiry + 3_600_000).toISOString())).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('Graph delivery faults', () => {
  async function channelWithSubscription() {
    const { channel, resource } = channelFixture();
    await createGraphSubscription(client, { resource, changeType: 'created', notificationUrl: listener.url, clientState: SECRET, expirationDateTime: inMinutes(50) });
    return channel;
  }

  it('drops everything when told to: nothing reaches the endpoint, every notification is in `dropped`', async () => {
    await subscribeDrive();
    emulator.push.configure({ dropAll: true });
    for (let i = 0; i < 5; i++) {
      emulator.addFile('/', `f${i}.txt`, 'x');
      await emulator.push.settled();
    }
    expect(listener.received).toHaveLength(0);
    expect(emulator.push.dropped).toHaveLength(5);
  });

  it('duplicates: each notification arrives twice, identical', async () => {
    await subscribeDrive();
    emulator.push.configure({ duplicates: 1 });
    emulator.addFile('/', 'twice.txt', 'x');
    const [first, second] = await listener.arrivals(2);
    expect(second?.body).toBe(first?.body);
  });

  it('reorders: with a window of 3, three messages arrive newest first', async () => {
    const channel = await channelWithSubscription();
    emulator.push.configure({ reorderWindow: 3 });
    const posted = [];
    for (let i = 0; i < 3; i++) {
      posted.push(emulator.teams.post(channel, { html: `<p>${i}</p>` }).id);
      await emulator.push.settled();
    }
    const arrived = notificationsOf(await listener.arrivals(3)).map((n) => /messages\('([^']+)'\)/.exec(n.resource)?.[1]);
    expect(arrived).toEqual(posted.reverse());
  });

  it('loses the same notifications for the same seed, and some but not all at a rate of one half', async () => {
    const channel = await channelWithSubscription();
    const messageIdOf = (resource: string) => /messages\('([^']+)'\)/.exec(resource)?.[1];
    const lostPositions = async (seed: number): Promise<number[]> => {
      emulator.push.outbox.reset();
      emulator.push.configure({ lossRate: 0.5, seed });
      const posted: string[] = [];
      for (let i = 0; i < 20; i++) {
        posted.push(emulator.teams.post(channel, { html: `<p>${seed}-${i}</p>` }).id);
        await emulator.push.settled();
      }
      const lost = new Set(notificationsOf(emulator.push.dropped.map((m) => ({ body: m.body ?? '' }))).map((n) => messageIdOf(n.resource)));
      return posted.flatMap((id, i) => (lost.has(id) ? [i] : []));
    };
    const first = await lostPositions(7);
    const second = await lostPositions(7);
    expect(second).toEqual(first);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(20);
    expect(listener.received).toHaveLength(40 - 2 * first.length);
  });
});
