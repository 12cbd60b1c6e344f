import { brotliCompressSync, gzipSync } from 'node:zlib';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CursorExpiredError,
  isCursorExpired,
  isItemGone,
  isNotFound,
  isPermanent,
  isRetryLater,
  isThrottled,
  isUnauthorized,
  isUnreachable,
  itemGoneIfNotFound,
  ItemGoneError,
  NotFoundError,
  PermanentSourceError,
  SourceProtocolError,
  SourceUnreachableError,
  ThrottledError,
  UnauthorizedError,
} from '../../src/errors.js';
import { freeLoopbackPort } from '../../src/free-port.js';
import { SourceHttp, redactUrl, type AccessTokenSource, type Classifier, type SourceHttpOptions } from '../../src/http/source-http.js';
import { RequestRateLimiter } from '../../src/http/rate-limit.js';
import { TenantPauses } from '../../src/http/tenant-pauses.js';
import { classifyDriveError } from '../../src/providers/google-drive/errors.js';
import { classifyGraphError } from '../../src/providers/microsoft-graph/errors.js';
import { classifyTeamsError } from '../../src/providers/microsoft-graph/teams/errors.js';

/**
 * SourceHttp against a real HTTP server on 127.0.0.1. Each test mounts its own
 * paths; the server records every request that reached it, with when.
 */

interface Hit {
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  at: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, hitNumber: number) => void;

const routes = new Map<string, Handler>();
const hits: Hit[] = [];
let server: Server;
let base: string;

function route(path: string, handler: Handler): string {
  routes.set(path, handler);
  return `${base}${path}`;
}

/** Answers the n-th request to a path with the n-th handler (the last one repeats). */
function sequence(path: string, ...steps: Handler[]): string {
  return route(path, (req, res, n) => (steps[Math.min(n, steps.length - 1)] as Handler)(req, res, n));
}

function hitsOf(path: string): Hit[] {
  return hits.filter((h) => h.path === path);
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };

const ok = (body: unknown = { ok: true }): Handler => json(200, body);

const destroySocket: Handler = (req) => {
  req.socket.destroy();
};

/** The connections of one worker, shared by every client as a worker's SourceMemory shares them. */
const connections = new Agent();

/** The pauses of one worker: every client of a test shares them, as a worker's do. */
let pauses = new TenantPauses();
beforeEach(() => {
  pauses = new TenantPauses();
});

function client(options: Partial<SourceHttpOptions> = {}): SourceHttp {
  return new SourceHttp({ tenantKey: 'tenant-a', pauses, rateLimiter: new RequestRateLimiter(), dispatcher: connections, baseDelayMs: 5, maxDelayMs: 50, maxInlineWaitMs: 5_000, ...options });
}

/** Hands out `old-token` until asked to refresh, then `new-token`. */
function tokenSource(): AccessTokenSource & { calls: boolean[] } {
  const calls: boolean[] = [];
  return {
    calls,
    getAccessToken(forceRefresh: boolean) {
      calls.push(forceRefresh);
      return Promise.resolve(calls.includes(true) ? 'new-token' : 'old-token');
    },
  };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the request to fail');
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const previous = hitsOf(url.pathname).length;
    hits.push({ path: url.pathname, query: url.searchParams, headers: req.headers, at: performance.now() });
    const handler = routes.get(url.pathname);
    if (!handler) {
      res.writeHead(599).end('no route');
      return;
    }
    handler(req, res, previous);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await connections.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

afterEach(() => {
  routes.clear();
  hits.length = 0;
});

describe('SourceHttp.json', () => {
  it('returns the parsed body, status and headers of a 200', async () => {
    const url = route('/items', json(200, { value: [{ id: 'a' }] }, { etag: '"v1"' }));
    const result = await client().json<{ value: Array<{ id: string }> }>(url);
    expect(result.status).toBe(200);
    expect(result.data.value[0]?.id).toBe('a');
    expect(result.headers.get('etag')).toBe('"v1"');
  });

  it('appends query parameters, keeps those already in the URL and skips undefined ones', async () => {
    const url = route('/search', ok());
    await client().json(`${url}?$select=id`, { query: { $top: 200, includeItemsFromAllDrives: true, q: "name = 'a b'", skipped: undefined } });
    const [hit] = hitsOf('/search');
    expect(Object.fromEntries(hit?.query ?? [])).toEqual({ $select: 'id', $top: '200', includeItemsFromAllDrives: 'true', q: "name = 'a b'" });
  });

  it('sends method, body and headers as given', async () => {
    let received = '';
    const url = route('/token', (req, res) => {
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (received += chunk));
      req.on('end', () => json(200, { access_token: 't' })(req, res, 0));
    });
    await client().json(url, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token' }), headers: { accept: 'application/json' } });
    expect(received).toBe('grant_type=refresh_token');
    expect(hitsOf('/token')[0]?.headers.accept).toBe('application/json');
  });

  it('parses a compressed JSON body', async () => {
    const packed = gzipSync(JSON.stringify({ value: [{ id: 'a' }] }));
    const url = route('/packed-json', (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(packed));
    expect((await client().json(url)).data).toEqual({ value: [{ id: 'a' }] });
  });

  it('parses a JSON body that starts with a byte-order mark', async () => {
    const url = route('/bom-json', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')])));
    expect((await client().json(url)).data).toEqual({ a: 1 });
  });

  it('stops reading a JSON body past 64 MiB (a compression bomb) with a SourceProtocolError, not the worker\'s memory', async () => {
    // 65 MiB of spaces in about 65 KB of gzip.
    const bomb = gzipSync(Buffer.alloc(65 * 1024 * 1024, 0x20));
    const url = route('/bomb', (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(bomb));
    const error = await caught(client({ maxAttempts: 1 }).json(`${url}?token=SECRET`));
    expect(error).toBeInstanceOf(SourceProtocolError);
    expect((error as Error).message).toBe(`GET ${base}/bomb answered 200 with a body over 64 MiB, more than any page of a listing`);
  });

  it('turns a 200 whose body is not JSON into a SourceProtocolError that quotes the body but not the query', async () => {
    const url = route('/html', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>sign in</html>'));
    const error = await caught(client().json(`${url}?token=SECRET`));
    expect(error).toBeInstanceOf(SourceProtocolError);
    expect((error as Error).message).toContain('/html answered 200 with a body that is not JSON');
    expect((error as Error).message).toContain('<html>sign in</html>');
    expect((error as Error).message).not.toContain('SECRET');
  });
});

describe('Retry-After and throttling', () => {
  it('waits the seconds of Retry-After after a 429, then succeeds', async () => {
    const url = sequence('/throttled', json(429, { error: 'slow down' }, { 'retry-after': '1' }), ok({ done: true }));
    const delays: number[] = [];
    const started = performance.now();
    const { data } = await client({ onRetry: (info) => delays.push(info.delayMs) }).json(url);
    expect(data).toEqual({ done: true });
    const [first, second] = hitsOf('/throttled');
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(delays).toEqual([1000]);
  });

  it('waits until the HTTP-date of Retry-After on a 503', async () => {
    const url = sequence(
      '/unavailable',
      (_req, res) => res.writeHead(503, { 'retry-after': new Date(Date.now() + 2000).toUTCString() }).end(),
      ok(),
    );
    const delays: number[] = [];
    await client({ onRetry: (info) => delays.push(info.delayMs) }).json(url);
    // An HTTP-date has whole seconds, so "now + 2 s" is 1 to 2 s away.
    expect(delays[0]).toBeGreaterThan(900);
    expect(delays[0]).toBeLessThanOrEqual(2000);
    const [first, second] = hitsOf('/unavailable');
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual((delays[0] ?? 0) - 50);
  });

  it('hands a wait longer than maxInlineWaitMs to the caller as a ThrottledError without sleeping', async () => {
    const url = route('/long-wait', json(429, {}, { 'retry-after': '120' }));
    const started = performance.now();
    const error = await caught(client({ maxInlineWaitMs: 1_000 }).json(url));
    expect(performance.now() - started).toBeLessThan(500);
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).retryAfterMs).toBe(120_000);
    expect((error as Error).message).toContain('answered 429');
    expect((error as Error).message).toContain('retry in 120 s');
    expect(hitsOf('/long-wait')).toHaveLength(1);
  });

  it('refuses further requests to a tenant paused for longer than maxInlineWaitMs without sending them', async () => {
    const throttled = route('/long-wait', json(429, {}, { 'retry-after': '120' }));
    const other = route('/other', ok());
    await caught(client({ maxInlineWaitMs: 1_000 }).json(throttled));
    const error = await caught(client({ maxInlineWaitMs: 1_000 }).json(other));
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as Error).message).toMatch(/requests to tenant-a are paused by throttling for 1[12]\d s/);
    expect((error as ThrottledError).retryAfterMs).toBeGreaterThan(110_000);
    expect(hitsOf('/other')).toHaveLength(0);
    expect(pauses.pausedFor('tenant-b')).toBe(0);
  });

  it('pauses every client of the throttled tenant, and only that tenant', async () => {
    const throttled = sequence('/a-throttled', json(429, {}, { 'retry-after': '1' }), ok());
    route('/a-other', ok());
    route('/b-other', ok());
    const sameTenant = client({ tenantKey: 'tenant-a' });
    const otherTenant = client({ tenantKey: 'tenant-b' });
    let followers: Promise<unknown> | undefined;
    // onRetry runs once the 429 has been read and the tenant paused.
    const first = client({
      tenantKey: 'tenant-a',
      onRetry: () => {
        followers = Promise.all([sameTenant.json(`${base}/a-other`), otherTenant.json(`${base}/b-other`)]);
      },
    }).json(throttled);
    await first;
    await followers;
    const throttledAt = hitsOf('/a-throttled')[0]?.at ?? 0;
    expect((hitsOf('/a-other')[0]?.at ?? 0) - throttledAt).toBeGreaterThanOrEqual(900);
    expect((hitsOf('/b-other')[0]?.at ?? Infinity) - throttledAt).toBeLessThan(300);
  });

  it('keeps a pause to the worker that met it: another worker\'s clients of the same tenant are not held', async () => {
    const throttled = route('/long-wait', json(429, {}, { 'retry-after': '120' }));
    route('/elsewhere', ok());
    await caught(client({ maxInlineWaitMs: 1_000 }).json(throttled));
    const otherWorker = client({ pauses: new TenantPauses(), maxInlineWaitMs: 1_000 });
    expect(await otherWorker.json(`${base}/elsewhere`)).toMatchObject({ status: 200 });
    expect(pauses.pausedFor('tenant-a')).toBeGreaterThan(110_000);
  });
});

describe('retries', () => {
  it('retries 500 and 502 with growing backoff, then succeeds', async () => {
    const url = sequence('/flaky', json(500, {}), json(502, {}), ok({ value: 1 }));
    const retries: Array<{ status?: number; delayMs: number; attempt: number }> = [];
    const { data } = await client({
      baseDelayMs: 20,
      random: () => 1,
      onRetry: ({ status, delayMs, attempt }) => retries.push({ status, delayMs, attempt }),
    }).json(url);
    expect(data).toEqual({ value: 1 });
    expect(retries).toEqual([
      { status: 500, delayMs: 20, attempt: 0 },
      { status: 502, delayMs: 40, attempt: 1 },
    ]);
    const [a, b, c] = hitsOf('/flaky').map((h) => h.at);
    expect((b ?? 0) - (a ?? 0)).toBeGreaterThanOrEqual(18);
    expect((c ?? 0) - (b ?? 0)).toBeGreaterThanOrEqual(38);
  });

  it.each([408, 423, 501, 504])('retries a %i', async (status) => {
    const url = sequence(`/transient-${status}`, json(status, {}), ok({ status }));
    const { data } = await client().json(url);
    expect(data).toEqual({ status });
    expect(hitsOf(`/transient-${status}`)).toHaveLength(2);
  });

  it('reports each retry with its delay and a redacted URL', async () => {
    const url = sequence('/once', json(500, {}), ok());
    const retries: Array<{ url: string; delayMs: number; reason: string }> = [];
    await client({ random: () => 0, onRetry: ({ url: u, delayMs, reason }) => retries.push({ url: u, delayMs, reason }) }).json(
      `${url}?token=SECRET`,
    );
    expect(retries).toEqual([{ url: `${base}/once`, delayMs: 5, reason: `GET ${base}/once answered 500` }]);
  });

  it('gives up after maxAttempts with a ThrottledError that says how many attempts were made', async () => {
    const url = route('/down', json(500, {}));
    const error = await caught(client({ maxAttempts: 3 }).json(url));
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as Error).message).toContain('gave up after 3 attempts');
    expect((error as Error).message).toContain('answered 500');
    expect(hitsOf('/down')).toHaveLength(3);
  });

  it('retries a connection the server reset, then succeeds', async () => {
    const url = sequence('/reset', destroySocket, ok({ after: 'reset' }));
    const reasons: string[] = [];
    const { data } = await client({ onRetry: ({ reason }) => reasons.push(reason) }).json(url);
    expect(data).toEqual({ after: 'reset' });
    expect(hitsOf('/reset')).toHaveLength(2);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^network error/);
  });

  it('gives up on a connection reset every time, naming the attempts, the host and the network error (not throttling)', async () => {
    const url = route('/always-reset', destroySocket);
    const retries: number[] = [];
    const error = await caught(client({ maxAttempts: 3, onRetry: ({ attempt }) => retries.push(attempt) }).json(url));
    expect(error).toBeInstanceOf(SourceUnreachableError);
    expect(error).not.toBeInstanceOf(ThrottledError);
    expect((error as Error).message).toMatch(/^gave up after 3 attempts: GET http:\/\/127\.0\.0\.1:\d+\/always-reset: could not reach 127\.0\.0\.1:\d+ \(/);
    expect((error as Error).message).toMatch(/socket|ECONNRESET|other side closed/i);
    expect(hitsOf('/always-reset')).toHaveLength(3);
    // No retry is announced (or slept for) after the last attempt.
    expect(retries).toEqual([0, 1]);
  });

  it('a host that refuses connections is named with the refusal, as a network failure rather than throttling', async () => {
    // A port nothing listens on.
    const port = await freeLoopbackPort();
    const error = await caught(client({ maxAttempts: 2 }).json(`http://127.0.0.1:${port}/v1.0/drives?token=SECRET`));
    expect(error).toBeInstanceOf(SourceUnreachableError);
    expect((error as Error).message).toBe(
      `gave up after 2 attempts: GET http://127.0.0.1:${port}/v1.0/drives: could not reach 127.0.0.1:${port} (connect ECONNREFUSED 127.0.0.1:${port})`,
    );
    expect((error as SourceUnreachableError).retryAfterMs).toBeGreaterThan(0);
  });

  it('retries a request that timed out', async () => {
    const url = sequence(
      '/slow',
      () => {
        /* never answers */
      },
      ok({ fast: true }),
    );
    const { data } = await client({ timeoutMs: 200 }).json(url);
    expect(data).toEqual({ fast: true });
    expect(hitsOf('/slow')).toHaveLength(2);
  });

  it('does not retry when the caller aborts', async () => {
    const url = route('/hang', () => {
      /* never answers */
    });
    const controller = new AbortController();
    const pending = client().json(url, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const error = await caught(pending);
    expect((error as Error).name).toBe('AbortError');
    expect(hitsOf('/hang')).toHaveLength(1);
  });
});

describe('token refresh on 401', () => {
  const byToken: Handler = (req, res) => {
    if (req.headers.authorization === 'Bearer new-token') ok({ me: 'ok' })(req, res, 0);
    else json(401, { error: { code: 'InvalidAuthenticationToken' } })(req, res, 0);
  };

  it('refreshes the token once and retries with the new one', async () => {
    const url = route('/me', byToken);
    const auth = tokenSource();
    const { data } = await client({ auth }).json(url);
    expect(data).toEqual({ me: 'ok' });
    expect(auth.calls.filter((force) => force)).toHaveLength(1);
    expect(hitsOf('/me').map((h) => h.headers.authorization)).toEqual(['Bearer old-token', 'Bearer new-token']);
  });

  it('forces a refresh only for the request right after the 401', async () => {
    const url = sequence('/me-flaky', json(401, {}), json(500, {}), ok());
    const auth = tokenSource();
    await client({ auth }).json(url);
    expect(auth.calls).toEqual([false, true, false]);
    expect(hitsOf('/me-flaky').map((h) => h.headers.authorization)).toEqual(['Bearer old-token', 'Bearer new-token', 'Bearer new-token']);
  });

  it('stops the sync and asks to reconnect when the new token is refused too', async () => {
    const url = route('/revoked', json(401, {}));
    const auth = tokenSource();
    const error = await caught(client({ auth }).json(url));
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(error).toBeInstanceOf(PermanentSourceError);
    expect((error as PermanentSourceError).scope).toBe('sync');
    expect((error as Error).message).toContain('reconnect');
    expect(auth.calls).toEqual([false, true]);
    expect(hitsOf('/revoked')).toHaveLength(2);
  });

  it('sends no token when the request opts out', async () => {
    const url = route('/public', ok());
    await client({ auth: tokenSource() }).json(url, { authenticate: false });
    expect(hitsOf('/public')[0]?.headers.authorization).toBeUndefined();
  });
});

describe('failures that are not retried', () => {
  it('makes a 403 a permanent failure of the item', async () => {
    const url = route('/forbidden', json(403, {}));
    const error = await caught(client().json(url));
    expect(error).toBeInstanceOf(PermanentSourceError);
    expect((error as PermanentSourceError).scope).toBe('item');
    expect((error as PermanentSourceError).code).toBe('accessDenied');
    expect(hitsOf('/forbidden')).toHaveLength(1);
  });

  it('makes a 507 a permanent failure of the sync', async () => {
    const url = route('/full', json(507, {}));
    const error = await caught(client().json(url));
    expect(error).toBeInstanceOf(PermanentSourceError);
    expect((error as PermanentSourceError).scope).toBe('sync');
  });

  it.each([
    [400, 'http400'],
    [418, 'http418'],
  ])('makes any other 4xx (%i) a permanent failure of the item with code %s', async (status, code) => {
    const url = route(`/status-${status}`, json(status, {}));
    const error = await caught(client().json(url));
    expect(error).toBeInstanceOf(PermanentSourceError);
    expect((error as PermanentSourceError).code).toBe(code);
    expect((error as PermanentSourceError).scope).toBe('item');
    expect(hitsOf(`/status-${status}`)).toHaveLength(1);
  });

  it('reports a 404 as a NotFoundError with the status and the URL, without retrying', async () => {
    const url = route('/gone-item', json(404, { error: 'itemNotFound' }));
    const error = await caught(client().json(url));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ status: 404, code: 'notFound', url: `${base}/gone-item` });
    expect(hitsOf('/gone-item')).toHaveLength(1);
  });

  it('reports a 410 as a CursorExpiredError asking for a resync, without retrying', async () => {
    const url = route('/delta', json(410, {}, { location: `${base}/delta?token=fresh` }));
    const error = await caught(client().json(url));
    expect(error).toBeInstanceOf(CursorExpiredError);
    expect(error).toMatchObject({ status: 410, code: 'resyncRequired' });
    expect(hitsOf('/delta')).toHaveLength(1);
  });

  it('keeps tokens in the query string out of error messages and URLs', async () => {
    const url = route('/secret', json(404, {}));
    const error = await caught(client().json(`${url}?token=SECRET&$skiptoken=SECRET2`));
    expect((error as Error).message).toBe(`GET ${base}/secret answered 404 (notFound)`);
    expect((error as NotFoundError).url).toBe(`${base}/secret`);
  });
});

describe('a source classifier', () => {
  const rateLimited = json(403, { error: { errors: [{ reason: 'rateLimitExceeded' }] } });
  const classify: SourceHttpOptions['classify'] = (failed) =>
    failed.status === 403 && failed.bodyText.includes('rateLimitExceeded') ? { kind: 'throttle', retryAfterMs: 30 } : undefined;

  it('overrides the default verdict: a rate-limit 403 is retried, not a permanent failure', async () => {
    const url = sequence('/drive-files', rateLimited, ok({ files: [] }));
    const { data } = await client({ classify }).json(url);
    expect(data).toEqual({ files: [] });
    expect(hitsOf('/drive-files')).toHaveLength(2);
  });

  it('does not lend the default code of another kind to its verdict', async () => {
    const url = route('/drive-limited', rateLimited);
    const error = await caught(client({ classify, maxAttempts: 1 }).json(url));
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as Error).message).not.toContain('accessDenied');
  });

  it('reads a compressed error body decoded, as the source meant it', async () => {
    // We ask for gzip and brotli; a source may compress its error answers too.
    const packed = gzipSync(JSON.stringify({ error: { errors: [{ reason: 'rateLimitExceeded' }] } }));
    const url = sequence('/drive-packed', (_req, res) => res.writeHead(403, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(packed), ok({ files: [] }));
    const { data } = await client({ classify }).json(url);
    expect(data).toEqual({ files: [] });
    expect(hitsOf('/drive-packed')).toHaveLength(2);
    expect(hitsOf('/drive-packed')[0]?.headers['accept-encoding']).toBe('gzip, br');
  });

  it('keeps the default verdict where the classifier has nothing to say', async () => {
    const url = route('/drive-denied', json(403, { error: { errors: [{ reason: 'insufficientFilePermissions' }] } }));
    const error = await caught(client({ classify }).json(url));
    expect(error).toBeInstanceOf(PermanentSourceError);
    expect((error as PermanentSourceError).code).toBe('accessDenied');
  });

  it('puts its code and message into the error a user reads', async () => {
    const url = route('/drive-quota', json(403, {}));
    const error = await caught(
      client({ classify: () => ({ kind: 'permanent', code: 'dailyLimitExceeded', scope: 'sync', message: 'quota used up' }) }).json(url),
    );
    expect((error as Error).message).toBe(`GET ${base}/drive-quota answered 403 (dailyLimitExceeded): quota used up`);
    expect((error as PermanentSourceError).scope).toBe('sync');
  });
});

/**
 * The verdict table: which class a failed answer leaves the HTTP layer as, with
 * each source's classifier. Callers branch on these classes only, so a status
 * mapped to the wrong one here is a wrong decision downstream.
 */
describe('verdicts as classes', () => {
  type Verdict = abstract new (...args: never[]) => Error;
  const graphBody = (code: string) => ({ error: { code, message: 'm' } });
  const driveBody = (reason: string, extra: Record<string, string> = {}) => ({ error: { code: 0, message: 'm', errors: [{ reason, message: 'm', ...extra }] } });
  const rows: Array<{
    name: string;
    path: string;
    answer: Handler;
    classify?: Classifier;
    options?: Partial<SourceHttpOptions>;
    is: Verdict;
    code: string;
    scope?: 'item' | 'sync';
  }> = [
    { name: 'default 401 after the one refresh', path: '/d/401', answer: json(401, {}), options: { auth: tokenSource() }, is: UnauthorizedError, code: 'unauthorized', scope: 'sync' },
    { name: 'default 403', path: '/d/403', answer: json(403, {}), is: PermanentSourceError, code: 'accessDenied', scope: 'item' },
    { name: 'default 404', path: '/d/404', answer: json(404, {}), is: NotFoundError, code: 'notFound' },
    { name: 'default 410', path: '/d/410', answer: json(410, {}), is: CursorExpiredError, code: 'resyncRequired' },
    { name: 'default 418', path: '/d/418', answer: json(418, {}), is: PermanentSourceError, code: 'http418', scope: 'item' },
    { name: 'default 429 with a long Retry-After', path: '/d/429', answer: json(429, {}, { 'retry-after': '120' }), is: ThrottledError, code: 'http429' },
    { name: 'default 500 on the last attempt', path: '/d/500', answer: json(500, {}), options: { maxAttempts: 1 }, is: ThrottledError, code: 'http500' },
    { name: 'default 507', path: '/d/507', answer: json(507, {}), is: PermanentSourceError, code: 'insufficientStorage', scope: 'sync' },
    { name: 'no answer at all', path: '/d/reset', answer: destroySocket, options: { maxAttempts: 1 }, is: SourceUnreachableError, code: 'unreachable' },
    { name: 'Graph 401 after the one refresh', path: '/g/me', answer: json(401, graphBody('InvalidAuthenticationToken')), classify: classifyGraphError, options: { auth: tokenSource() }, is: UnauthorizedError, code: 'invalidAuthenticationToken', scope: 'sync' },
    { name: 'Graph 400 on a delta link', path: '/g/root/delta', answer: json(400, {}), classify: classifyGraphError, is: CursorExpiredError, code: 'resyncRequired' },
    { name: 'Graph 410 resyncChangesApplyDifferences', path: '/g/drive/root/delta', answer: json(410, graphBody('resyncChangesApplyDifferences')), classify: classifyGraphError, is: CursorExpiredError, code: 'resyncChangesApplyDifferences' },
    { name: 'Graph 404 on a download', path: '/g/items/1/content', answer: json(404, graphBody('itemNotFound')), classify: classifyGraphError, is: NotFoundError, code: 'itemNotFound' },
    { name: 'Graph 403 on a download', path: '/g/items/2/content', answer: json(403, graphBody('accessDenied')), classify: classifyGraphError, is: PermanentSourceError, code: 'accessDenied', scope: 'item' },
    { name: 'Graph 403 on a listing', path: '/g/items/3/children', answer: json(403, graphBody('accessDenied')), classify: classifyGraphError, is: PermanentSourceError, code: 'accessDenied', scope: 'sync' },
    { name: 'Graph 429 on the last attempt', path: '/g/429', answer: json(429, graphBody('activityLimitReached')), classify: classifyGraphError, options: { maxAttempts: 1 }, is: ThrottledError, code: 'activityLimitReached' },
    { name: 'Teams 400 syncStateNotFound', path: '/t/messages/delta', answer: json(400, graphBody('syncStateNotFound')), classify: classifyTeamsError, is: CursorExpiredError, code: 'syncStateNotFound' },
    { name: 'Teams 404 on a message', path: '/t/messages/1', answer: json(404, graphBody('NotFound')), classify: classifyTeamsError, is: NotFoundError, code: 'notFound' },
    { name: 'Drive 404 on a file', path: '/drive/v3/files/abc', answer: json(404, driveBody('notFound')), classify: classifyDriveError, is: NotFoundError, code: 'notFound' },
    { name: 'Drive 404 on changes.list', path: '/drive/v3/changes', answer: json(404, driveBody('notFound')), classify: classifyDriveError, is: CursorExpiredError, code: 'invalidPageToken' },
    { name: 'Drive 400 on a listing page token', path: '/drive/v3/files', answer: json(400, driveBody('invalid', { location: 'pageToken' })), classify: classifyDriveError, is: CursorExpiredError, code: 'invalidPageToken' },
    { name: 'Drive 403 rateLimitExceeded on the last attempt', path: '/drive/v3/about', answer: json(403, driveBody('rateLimitExceeded')), classify: classifyDriveError, options: { maxAttempts: 1 }, is: ThrottledError, code: 'rateLimitExceeded' },
    { name: 'Drive 403 dailyLimitExceeded', path: '/drive/v3/drives', answer: json(403, driveBody('dailyLimitExceeded')), classify: classifyDriveError, is: PermanentSourceError, code: 'dailyLimitExceeded', scope: 'sync' },
    { name: 'Drive 403 downloadQuotaExceeded', path: '/drive/v3/files/big', answer: json(403, driveBody('downloadQuotaExceeded')), classify: classifyDriveError, is: PermanentSourceError, code: 'downloadQuotaExceeded', scope: 'item' },
  ];

  it.each(rows)('$name leaves as $is.name ($code)', async ({ path, answer, classify, options, is, code, scope }) => {
    const url = route(path, answer);
    const error = await caught(client({ maxInlineWaitMs: 1_000, ...options, ...(classify ? { classify } : {}) }).json(`${url}?token=SECRET`));
    // The exact class, not a relative: a 403 must not pass for an UnauthorizedError or an ItemGoneError.
    expect(Object.getPrototypeOf(error)).toBe(is.prototype);
    expect(error).toMatchObject({ code, url: `${base}${path}` });
    if (scope) expect((error as PermanentSourceError).scope).toBe(scope);
    if (answer !== destroySocket) expect((error as NotFoundError).status).toBeGreaterThanOrEqual(400);
  });

  it('each guard answers for its own verdict only', () => {
    const errors = {
      permanent: new PermanentSourceError('m', 'accessDenied', 'item'),
      unauthorized: new UnauthorizedError('m', 'unauthorized'),
      gone: new ItemGoneError('m'),
      notFound: new NotFoundError('m', 'notFound'),
      cursor: new CursorExpiredError('m', 'resyncRequired'),
      throttled: new ThrottledError('m', 'tooManyRequests', 1000),
      unreachable: new SourceUnreachableError('m', 'unreachable', 1000),
      protocol: new SourceProtocolError('m'),
    };
    const accepted = (guard: (e: unknown) => boolean) => Object.entries(errors).flatMap(([name, e]) => (guard(e) ? [name] : []));
    expect(accepted(isPermanent)).toEqual(['permanent', 'unauthorized', 'gone']);
    expect(accepted(isUnauthorized)).toEqual(['unauthorized']);
    expect(accepted(isItemGone)).toEqual(['gone']);
    expect(accepted(isNotFound)).toEqual(['notFound']);
    expect(accepted(isCursorExpired)).toEqual(['cursor']);
    expect(accepted(isRetryLater)).toEqual(['throttled', 'unreachable']);
    expect(accepted(isThrottled)).toEqual(['throttled']);
    expect(accepted(isUnreachable)).toEqual(['unreachable']);
    expect([errors.throttled.reason, errors.unreachable.reason]).toEqual(['throttled', 'unreachable']);
  });

  it('makes a NotFoundError met while opening an item an ItemGoneError, and passes anything else through', () => {
    const absent = new NotFoundError('GET /items/1/content answered 404 (itemNotFound)', 'itemNotFound', { status: 404, url: 'https://graph/items/1/content' });
    const gone = itemGoneIfNotFound(absent, 'item 1 no longer exists in the drive');
    expect(gone).toBeInstanceOf(ItemGoneError);
    expect(gone).toMatchObject({ message: 'item 1 no longer exists in the drive', code: 'itemGone', scope: 'item', status: 404, url: 'https://graph/items/1/content', cause: absent });
    const denied = new PermanentSourceError('m', 'accessDenied', 'item');
    expect(itemGoneIfNotFound(denied, 'x')).toBe(denied);
    const expired = new CursorExpiredError('m', 'resyncRequired');
    expect(itemGoneIfNotFound(expired, 'x')).toBe(expired);
  });
});

describe('SourceHttp.stream', () => {
  it('follows a redirect without sending the bearer token to its target', async () => {
    route('/items/1/content', (_req, res) => res.writeHead(302, { location: '/blob/abc?sig=presigned' }).end());
    route('/blob/abc', (_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end('file bytes'));
    const { body, status } = await client({ auth: tokenSource() }).stream(`${base}/items/1/content`);
    expect(status).toBe(200);
    expect(await text(body)).toBe('file bytes');
    expect(hitsOf('/items/1/content')[0]?.headers.authorization).toBe('Bearer old-token');
    expect(hitsOf('/blob/abc')).toHaveLength(1);
    expect(hitsOf('/blob/abc')[0]?.headers.authorization).toBeUndefined();
    expect(hitsOf('/blob/abc')[0]?.query.get('sig')).toBe('presigned');
  });

  it('keeps the length of a plain body and drops it for a compressed one (the decoded bytes are handed over)', async () => {
    const plain = Buffer.from('plain bytes');
    route('/plain', (_req, res) => res.writeHead(200, { 'content-length': String(plain.length) }).end(plain));
    const packed = gzipSync(Buffer.from('x'.repeat(10_000)));
    route('/packed', (_req, res) => res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(packed.length) }).end(packed));
    const a = await client().stream(`${base}/plain`);
    expect(a.headers.get('content-length')).toBe(String(plain.length));
    expect(await text(a.body)).toBe('plain bytes');
    const b = await client().stream(`${base}/packed`);
    expect(b.headers.get('content-length')).toBeNull();
    expect((await text(b.body)).length).toBe(10_000);
  });

  it('decodes brotli, and hands over bytes in a coding it does not know as they came, length kept', async () => {
    const packed = brotliCompressSync(Buffer.from('y'.repeat(5_000)));
    route('/brotli', (_req, res) => res.writeHead(200, { 'content-encoding': 'br', 'content-length': String(packed.length) }).end(packed));
    const odd = Buffer.from('zstd-ish bytes');
    route('/odd', (_req, res) => res.writeHead(200, { 'content-encoding': 'x-unknown', 'content-length': String(odd.length) }).end(odd));
    const b = await client().stream(`${base}/brotli`);
    expect(b.headers.get('content-length')).toBeNull();
    expect(await text(b.body)).toBe('y'.repeat(5_000));
    const o = await client().stream(`${base}/odd`);
    expect(o.headers.get('content-length')).toBe(String(odd.length));
    expect(await text(o.body)).toBe('zstd-ish bytes');
  });

  it('gives up on a redirect loop with a SourceProtocolError', async () => {
    route('/loop', (_req, res) => res.writeHead(302, { location: '/loop' }).end());
    const error = await caught(client().stream(`${base}/loop?token=SECRET`));
    expect(error).toBeInstanceOf(SourceProtocolError);
    expect((error as Error).message).toBe(`${base}/loop redirected more than 5 times`);
    expect(hitsOf('/loop')).toHaveLength(6);
  });

  it('hands a 3xx to json() callers as it is instead of following it', async () => {
    const url = route('/moved', (_req, res) => res.writeHead(302, { location: '/elsewhere' }).end());
    const response = await client().send(url);
    expect(response.status).toBe(302);
    expect(hitsOf('/elsewhere')).toHaveLength(0);
  });
});

describe('SourceHttp timeouts', () => {
  it('times out waiting for headers, but lets a body that keeps moving stream longer than the timeout', async () => {
    const timeoutMs = 1000;
    // The body's first chunk comes with the headers; the rest only once the test lets it, after more than the timeout.
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const url = route('/slow-body', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(1024, 7));
      void released.then(() => {
        for (let i = 1; i < 6; i++) res.write(Buffer.alloc(1024, 7));
        res.end();
      });
    });
    const { body } = await client({ timeoutMs, maxAttempts: 1 }).stream(url);
    const chunks: Buffer[] = [];
    let firstAt = 0;
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      if (firstAt === 0) {
        firstAt = Date.now();
        await new Promise((resolve) => setTimeout(resolve, timeoutMs + 250));
        release();
      }
    }
    expect(Date.now() - firstAt).toBeGreaterThan(timeoutMs);
    expect(Buffer.concat(chunks).length).toBe(6 * 1024);
  });

  it('gives up on a source that sends no headers within the timeout', async () => {
    let answer = (): void => undefined;
    const url = route('/no-headers', (_req, res) => {
      answer = () => res.writeHead(200).end('late');
    });
    const error = await caught(client({ timeoutMs: 200, maxAttempts: 1 }).stream(url));
    answer();
    expect(error).toBeInstanceOf(SourceUnreachableError);
    expect((error as Error).message).toMatch(/no answer within 200 ms/);
  });
});

describe('SourceHttp cut bodies', () => {
  it('a body the source cuts before anyone reads it ends nothing: the error waits for its reader', async () => {
    const url = route('/cut-unread', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100000' });
      res.write(Buffer.alloc(1024, 1), () => res.socket?.destroy());
    });
    const { body } = await client({ maxAttempts: 1 }).stream(url);
    // Nobody reads yet: the cut arrives meanwhile (an error event nobody listened to would end the process).
    for (let i = 0; i < 500 && !body.errored; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(body.errored).toBeInstanceOf(Error);
    const read = await text(body).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(read).toBe(body.errored);
  });
});

describe('redactUrl', () => {
  it('drops the query string and credentials', () => {
    expect(redactUrl('https://user:pw@graph.example/v1.0/drives/1/root/delta?token=SECRET#x')).toBe('https://graph.example/v1.0/drives/1/root/delta');
  });

  it('never echoes an unparseable URL', () => {
    expect(redactUrl('not a url ?token=SECRET')).toBe('[unparseable url]');
  });
});
