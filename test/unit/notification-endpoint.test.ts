import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { KnownSubscription } from '../../src/db/push-subscriptions.js';
import { createLogger } from '../../src/logger.js';
import { Counters } from '../../src/metrics.js';
import { startNotificationEndpoint, type NotificationEndpoint, type NotificationEndpointOptions } from '../../src/push/notification-endpoint.js';
import { secretDigest } from '../../src/push/secrets.js';
import type { LifecycleEvent } from '../../workflows/definitions.js';

/**
 * The notification endpoint on its own, with the subscriptions this service
 * "made" held in memory: what it answers each cloud, and that only a
 * notification naming one of our subscriptions with its secret asks for anything.
 */

const GRAPH_SECRET = 'graph-client-state-of-sub-1';
const DRIVE_SECRET = 'drive-channel-token-of-chan-1';
const known: Record<string, KnownSubscription> = {
  'sub-1': { id: 'sub-1', connectorId: 7, source: 'graph', secretSha256: secretDigest(GRAPH_SECRET) },
  'chan-1': { id: 'chan-1', connectorId: 8, source: 'drive', secretSha256: secretDigest(DRIVE_SECRET) },
};

interface Harness {
  base: string;
  endpoint: NotificationEndpoint;
  counters: Counters;
  changes: number[];
  lifecycle: Array<{ connectorId: number; event: LifecycleEvent }>;
  lookups: number;
}

let current: Harness | undefined;

async function start(options: Partial<NotificationEndpointOptions> = {}): Promise<Harness> {
  const counters = new Counters();
  const harness: Partial<Harness> & { changes: number[]; lifecycle: Harness['lifecycle']; lookups: number } = { changes: [], lifecycle: [], lookups: 0 };
  const endpoint = await startNotificationEndpoint({
    host: '127.0.0.1',
    port: 0,
    basePath: '/push',
    findSubscription: (id) => {
      harness.lookups++;
      return Promise.resolve(known[id]);
    },
    onChange: (connectorId) => harness.changes.push(connectorId),
    onLifecycle: (connectorId, event) => harness.lifecycle.push({ connectorId, event }),
    counters,
    logger: createLogger('silent'),
    ...options,
  });
  const started: Harness = Object.assign(harness, { endpoint, counters, base: `http://127.0.0.1:${(endpoint.server.address() as AddressInfo).port}/push` });
  current = started;
  return started;
}

afterEach(async () => {
  await current?.endpoint.close();
  current = undefined;
});

const graphBody = (items: Array<Record<string, unknown>>): string => JSON.stringify({ value: items });
const post = (url: string, body = '', headers: Record<string, string> = {}) => fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

describe('Graph validation handshake', () => {
  it('echoes validationToken as text/plain with 200 on the notification and the lifecycle URL', async () => {
    const h = await start();
    for (const path of ['/graph', '/graph/lifecycle']) {
      const response = await post(`${h.base}${path}?validationToken=${encodeURIComponent('Validation: token <&> 42')}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await response.text()).toBe('Validation: token <&> 42');
    }
    expect(h.counters.get('connector_push_validations_total', { source: 'graph' })).toBe(2);
    expect(h.changes).toEqual([]);
  });
});

describe('Graph notifications', () => {
  it('a notification naming our subscription with its clientState asks for a sync of its connector, after a 202', async () => {
    const h = await start();
    const response = await post(`${h.base}/graph`, graphBody([{ subscriptionId: 'sub-1', clientState: GRAPH_SECRET, changeType: 'updated', resource: 'drives/d/root' }]));
    expect(response.status).toBe(202);
    await h.endpoint.idle();
    expect(h.changes).toEqual([7]);
    expect(h.counters.get('connector_push_notifications_accepted_total', { source: 'graph' })).toBe(1);
  });

  it('a forged clientState or an unknown subscription is answered 202 and triggers nothing, counted by reason', async () => {
    const h = await start();
    expect((await post(`${h.base}/graph`, graphBody([{ subscriptionId: 'sub-1', clientState: 'guess' }]))).status).toBe(202);
    expect((await post(`${h.base}/graph`, graphBody([{ subscriptionId: 'sub-1' }]))).status).toBe(202);
    expect((await post(`${h.base}/graph`, graphBody([{ subscriptionId: 'sub-404', clientState: GRAPH_SECRET }]))).status).toBe(202);
    // A Drive channel's id and token sent as a Graph notification is not a Graph subscription.
    expect((await post(`${h.base}/graph`, graphBody([{ subscriptionId: 'chan-1', clientState: DRIVE_SECRET }]))).status).toBe(202);
    await h.endpoint.idle();
    expect(h.changes).toEqual([]);
    expect(h.counters.get('connector_push_notifications_rejected_total', { source: 'graph', reason: 'bad_secret' })).toBe(2);
    expect(h.counters.get('connector_push_notifications_rejected_total', { source: 'graph', reason: 'unknown_subscription' })).toBe(2);
  });

  it('lifecycle notifications go to the keeper only when trusted', async () => {
    const h = await start();
    await post(`${h.base}/graph/lifecycle`, graphBody([{ subscriptionId: 'sub-1', clientState: GRAPH_SECRET, lifecycleEvent: 'reauthorizationRequired' }]));
    await post(`${h.base}/graph/lifecycle`, graphBody([{ subscriptionId: 'sub-1', clientState: 'forged', lifecycleEvent: 'subscriptionRemoved' }]));
    await h.endpoint.idle();
    expect(h.lifecycle).toEqual([{ connectorId: 7, event: { event: 'reauthorizationRequired', subscriptionId: 'sub-1' } }]);
    expect(h.changes).toEqual([]);
  });

  it('refuses what is not a notification collection (400), a body over the cap (413), other methods and paths', async () => {
    const h = await start({ maxBodyBytes: 1024 });
    expect((await post(`${h.base}/graph`, '{"value": ')).status).toBe(400);
    expect((await post(`${h.base}/graph`, '{"value": []}')).status).toBe(400);
    expect((await post(`${h.base}/graph`, graphBody([{ subscriptionId: 'sub-1', lifecycleEvent: 'somethingElse' }]))).status).toBe(400);
    expect((await post(`${h.base}/graph`, graphBody([{ subscriptionId: 'sub-1', clientState: 'x'.repeat(2000) }]))).status).toBe(413);
    expect((await fetch(`${h.base}/graph`)).status).toBe(405);
    expect((await post(`${h.base}/elsewhere`, '{}')).status).toBe(404);
    await h.endpoint.idle();
    expect(h.lookups).toBe(0);
    expect(h.counters.get('connector_push_notifications_rejected_total', { source: 'graph', reason: 'too_large' })).toBe(1);
  });

  it('rate limits one subscription: a flood of trusted notifications passes its burst, the rest are counted and dropped', async () => {
    let now = 1_000_000;
    const h = await start({ rate: { perSecond: 1, burst: 5 }, now: () => now });
    const items = Array.from({ length: 50 }, () => ({ subscriptionId: 'sub-1', clientState: GRAPH_SECRET }));
    expect((await post(`${h.base}/graph`, graphBody(items))).status).toBe(202);
    await h.endpoint.idle();
    expect(h.changes).toHaveLength(5);
    expect(h.counters.get('connector_push_notifications_rejected_total', { source: 'graph', reason: 'rate_limited' })).toBe(45);
    now += 2000;
    await post(`${h.base}/graph`, graphBody(items.slice(0, 3)));
    await h.endpoint.idle();
    expect(h.changes).toHaveLength(7);
  });
});

describe('Drive push messages', () => {
  const driveHeaders = (state: string, token = DRIVE_SECRET, id = 'chan-1') => ({
    'x-goog-channel-id': id,
    'x-goog-channel-token': token,
    'x-goog-resource-state': state,
    'x-goog-message-number': '2',
  });

  it('the sync message is acknowledged and asks for nothing; a change with the channel token asks for a sync', async () => {
    const h = await start();
    expect((await post(`${h.base}/drive`, '', driveHeaders('sync'))).status).toBe(200);
    await h.endpoint.idle();
    expect(h.changes).toEqual([]);
    expect((await post(`${h.base}/drive`, '', driveHeaders('change'))).status).toBe(200);
    await h.endpoint.idle();
    expect(h.changes).toEqual([8]);
  });

  it('a wrong token or channel triggers nothing; missing headers are refused', async () => {
    const h = await start();
    await post(`${h.base}/drive`, '', driveHeaders('change', 'forged'));
    await post(`${h.base}/drive`, '', driveHeaders('change', DRIVE_SECRET, 'chan-2'));
    await post(`${h.base}/drive`, '', driveHeaders('change', GRAPH_SECRET, 'sub-1'));
    expect((await post(`${h.base}/drive`, '', { 'x-goog-channel-id': 'chan-1' })).status).toBe(400);
    await h.endpoint.idle();
    expect(h.changes).toEqual([]);
    expect(h.counters.get('connector_push_notifications_rejected_total', { source: 'drive', reason: 'bad_secret' })).toBe(1);
    expect(h.counters.get('connector_push_notifications_rejected_total', { source: 'drive', reason: 'unknown_subscription' })).toBe(2);
  });
});

/** One forged or malformed request: each kind in turn, varied by its number, so every kind is sent many times. */
function forgery(n: number): { path: string; body: string; headers: Record<string, string>; method: string } {
  const id = n % 3 === 0 ? 'sub-1' : n % 3 === 1 ? 'chan-1' : `forged-${n}`;
  const junk = Buffer.from(Array.from({ length: 1 + (n % 97) }, (_, i) => (n * 31 + i * 7) % 256)).toString('latin1');
  const kinds = [
    () => ({ path: '/graph', body: graphBody([{ subscriptionId: id, clientState: `guess-${n}` }]) }),
    () => ({ path: '/graph', body: graphBody([{ subscriptionId: id }]) }),
    () => ({ path: '/graph/lifecycle', body: graphBody([{ subscriptionId: id, clientState: `guess-${n}`, lifecycleEvent: 'missed' }]) }),
    () => ({ path: '/graph', body: junk }),
    () => ({ path: '/graph', body: JSON.stringify({ value: [{ subscriptionId: { $ne: null }, clientState: [GRAPH_SECRET] }] }) }),
    () => ({ path: '/graph', body: JSON.stringify({ value: 'sub-1' }) }),
    () => ({ path: '/graph', body: 'null' }),
    () => ({ path: '/graph', body: graphBody([{ subscriptionId: 'x'.repeat(600), clientState: GRAPH_SECRET }]) }),
    () => ({ path: '/graph', body: graphBody([{ subscriptionId: 'sub-1', clientState: DRIVE_SECRET }]) }),
    () => ({ path: '/drive', body: '', headers: { 'x-goog-channel-id': id, 'x-goog-channel-token': `guess-${n}`, 'x-goog-resource-state': 'change' } }),
    () => ({ path: '/drive', body: '', headers: { 'x-goog-channel-id': id, 'x-goog-resource-state': 'change' } }),
    () => ({ path: '/drive', body: junk, headers: { 'x-goog-channel-token': DRIVE_SECRET } }),
    () => ({ path: '/drive', body: '', headers: { 'x-goog-channel-id': 'chan-1', 'x-goog-channel-token': GRAPH_SECRET, 'x-goog-resource-state': 'change' } }),
    () => ({ path: `/${junk.replace(/[^a-z]/gi, '') || 'x'}`, body: '{}' }),
    () => ({ path: '/graph', body: 'x'.repeat(300_000) }),
    () => ({ path: '/graph', body: '', method: 'PUT' }),
  ];
  const made = (kinds[n % kinds.length] as () => { path: string; body: string; headers?: Record<string, string>; method?: string })();
  return { method: made.method ?? 'POST', headers: made.headers ?? { 'content-type': 'application/json' }, path: made.path, body: made.body };
}

function send(agent: Agent, url: string, r: ReturnType<typeof forgery>): Promise<number> {
  return new Promise((resolve) => {
    const req = request(`${url}${r.path}`, { method: r.method, agent, headers: r.headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    // A body over the cap is cut off by the endpoint: the refusal, not a crash.
    req.on('error', () => resolve(-1));
    req.end(r.body);
  });
}

describe('fuzzed requests', () => {
  it('10,000 forged or malformed requests start nothing and never take the endpoint down', { timeout: 120_000 }, async () => {
    const h = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const statuses = new Map<number, number>();
    const total = 10_000;
    let next = 0;
    const startedAt = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < total) {
          const status = await send(agent, h.base, forgery(next++));
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    const seconds = (performance.now() - startedAt) / 1000;
    await h.endpoint.idle();
    agent.destroy();
    expect(h.changes).toEqual([]);
    expect(h.lifecycle).toEqual([]);
    expect([...statuses.keys()].every((s) => [-1, 200, 202, 400, 404, 405, 413].includes(s))).toBe(true);
    // Still serving: a real notification after the flood is trusted and acted on.
    expect((await post(`${h.base}/graph`, graphBody([{ subscriptionId: 'sub-1', clientState: GRAPH_SECRET }]))).status).toBe(202);
    await h.endpoint.idle();
    expect(h.changes).toEqual([7]);
    console.log(`fuzz: ${total} requests in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s), answers ${JSON.stringify(Object.fromEntries(statuses))}`);
  });
});
