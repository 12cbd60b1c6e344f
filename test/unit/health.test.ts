import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHealthServer, type HealthCheck, type HealthServerOptions } from '../../src/health.js';
import { Counters } from '../../src/metrics.js';

const pass: HealthCheck = () => Promise.resolve();
const fail =
  (message: string): HealthCheck =>
  () =>
    Promise.reject(new Error(message));
const hang: HealthCheck = () => new Promise<void>(() => undefined);

const allPass = { nats: pass, minio: pass, database: pass, temporal: pass };

let server: Server | undefined;

async function start(options: Partial<HealthServerOptions> = {}): Promise<string> {
  server = await startHealthServer({
    host: '127.0.0.1',
    port: 0,
    checks: allPass,
    isReady: () => true,
    counters: new Counters(),
    ...options,
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
});

describe('GET /healthz', () => {
  it('answers 200 with every dependency connected', async () => {
    const base = await start();
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.text()).toBe(
      JSON.stringify({ status: 'healthy', nats: 'connected', minio: 'connected', database: 'connected', temporal: 'connected' }),
    );
  });

  it('answers 503 naming the dependency that fails and why', async () => {
    const base = await start({ checks: { ...allPass, nats: fail('connection closed') } });
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: 'unhealthy',
      nats: 'disconnected',
      minio: 'connected',
      database: 'connected',
      temporal: 'connected',
      errors: { nats: 'connection closed' },
    });
  });

  it('reports a check that throws before returning a promise, or rejects with a non-Error', async () => {
    const base = await start({
      checks: {
        ...allPass,
        minio: () => {
          throw new Error('no endpoint configured');
        },
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a dependency's client may reject with anything
        database: () => Promise.reject('ECONNREFUSED'),
      },
    });
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as { minio: string; database: string; errors: Record<string, string> };
    expect(body.minio).toBe('disconnected');
    expect(body.database).toBe('disconnected');
    expect(body.errors).toEqual({ minio: 'no endpoint configured', database: 'ECONNREFUSED' });
  });

  it('answers 503 after the timeout when a check hangs', async () => {
    const base = await start({ checks: { ...allPass, temporal: hang }, timeoutMs: 150 });
    const started = performance.now();
    const response = await fetch(`${base}/healthz`);
    const elapsed = performance.now() - started;
    expect(response.status).toBe(503);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(2000);
    const body = (await response.json()) as { temporal: string; nats: string; errors: Record<string, string> };
    expect(body.temporal).toBe('disconnected');
    expect(body.nats).toBe('connected');
    expect(body.errors).toEqual({ temporal: 'no answer within 150 ms' });
  });

  it('stays healthy while the service is not ready yet', async () => {
    const base = await start({ isReady: () => false });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('ignores a query string', async () => {
    const base = await start();
    expect((await fetch(`${base}/healthz?verbose=1`)).status).toBe(200);
  });
});

describe('GET /readyz', () => {
  it('answers 200 when every check passes and the service is running', async () => {
    const base = await start();
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { status: string }).status).toBe('healthy');
  });

  it('answers 503 while the bridge or worker is not running, even with every check passing', async () => {
    let ready = false;
    const base = await start({ isReady: () => ready });
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      status: 'unhealthy',
      nats: 'connected',
      errors: { service: 'the bridge or worker is not running yet' },
    });
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('answers 503 naming the failing dependency', async () => {
    const base = await start({ checks: { ...allPass, database: fail('password authentication failed') } });
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ database: 'disconnected', errors: { database: 'password authentication failed' } });
  });
});

describe('GET /metrics', () => {
  it('serves the current counters as Prometheus text', async () => {
    const counters = new Counters();
    counters.inc('connector_bridge_syncs_started_total', { type: 'full' });
    const base = await start({ counters });
    const first = await fetch(`${base}/metrics`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(await first.text()).toBe('connector_bridge_syncs_started_total{type="full"} 1\n');

    counters.inc('connector_bridge_syncs_started_total', { type: 'full' });
    expect(await (await fetch(`${base}/metrics`)).text()).toBe('connector_bridge_syncs_started_total{type="full"} 2\n');
  });
});

describe('other requests', () => {
  it.each(['/', '/health', '/healthz/extra', '/metrics.json'])('answers 404 to %s', async (path) => {
    const base = await start();
    const response = await fetch(`${base}${path}`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'not found' });
  });

  it('answers 404 to a method other than GET', async () => {
    const base = await start();
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(404);
  });
});

describe('startHealthServer', () => {
  it('rejects when the port is taken', async () => {
    const base = await start();
    const port = Number(new URL(base).port);
    await expect(
      startHealthServer({ host: '127.0.0.1', port, checks: {}, isReady: () => true, counters: new Counters() }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
