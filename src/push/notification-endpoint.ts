import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { KnownSubscription, PushSource } from '../db/push-subscriptions.js';
import type { Logger } from '../logger.js';
import type { Counters } from '../metrics.js';
import type { LifecycleEvent } from '../../workflows/definitions.js';
import { NotificationRate } from './notification-rate.js';
import { secretMatches } from './secrets.js';

/**
 * The service's notification endpoint: Graph change and lifecycle
 * notifications and Drive push messages arrive here (through the deployment's
 * TLS ingress). It trusts nothing it receives: a notification counts only when
 * it names a subscription we created and carries that subscription's secret
 * (compared in constant time on digests). Every request is answered at once
 * (Graph throttles, then drops, endpoints slower than 3 s: "Receive change
 * notifications through webhooks", learn.microsoft.com/graph/change-notifications-delivery-webhooks),
 * and the checks and what follows run after the answer. A notification is only
 * ever a hint: it asks for a sync pass, whose delta feed is the truth.
 */

export const NOTIFICATION_PATHS = { graph: '/graph', graphLifecycle: '/graph/lifecycle', drive: '/drive' } as const;

/** Graph's validation token is opaque; we echo at most this many characters. */
const MAX_VALIDATION_TOKEN = 1024;
/** Notifications in one Graph POST we look at; Graph batches, but never close to this. */
const MAX_ITEMS_PER_POST = 1000;
/** Checks waiting to run; beyond this a flood is dropped and counted, never queued without bound. */
const MAX_QUEUED_CHECKS = 5000;
const CHECKS_IN_FLIGHT = 8;
/** Rejections logged per reason per minute (each is counted in /metrics regardless). */
const LOG_LINES_PER_MINUTE = 20;

export type RejectReason =
  | 'route'
  | 'method'
  | 'too_large'
  | 'malformed'
  | 'unknown_subscription'
  | 'bad_secret'
  | 'rate_limited'
  | 'overloaded'
  | 'lookup_failed';

export interface NotificationEndpointOptions {
  host: string;
  port: number;
  /** The path of NOTIFICATION_PUBLIC_URL ("" or "/push"): the routes live below it. */
  basePath: string;
  /** Largest body read (default 256 KiB); a longer one is refused with 413 and never parsed. */
  maxBodyBytes?: number;
  /** The subscription this service made with this id, if any. */
  findSubscription: (id: string) => Promise<KnownSubscription | undefined>;
  /** A trusted change notification for the connector (the push signaller debounces). */
  onChange: (connectorId: number, source: PushSource) => void;
  /** A trusted Graph lifecycle notification (the connector's keeper acts on it). */
  onLifecycle: (connectorId: number, event: LifecycleEvent) => void;
  counters: Counters;
  logger: Logger;
  /** Per-subscription budget of notifications (default 20 a second, bursts of 100). */
  rate?: { perSecond: number; burst: number };
  now?: () => number;
}

export interface NotificationEndpoint {
  server: Server;
  /** Resolves once every check queued so far has run (tests wait on it instead of sleeping). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** One notification to check once the request is answered. */
interface Claim {
  source: PushSource;
  id: string;
  secret: string | undefined;
  /** Graph lifecycle event, or Drive's resource state `sync` (nothing to do but trust-check). */
  lifecycle?: LifecycleEvent['event'];
  driveSync?: boolean;
}

const LIFECYCLE_EVENTS = new Set<string>(['reauthorizationRequired', 'subscriptionRemoved', 'missed']);

export async function startNotificationEndpoint(options: NotificationEndpointOptions): Promise<NotificationEndpoint> {
  const { counters, logger } = options;
  const maxBody = options.maxBodyBytes ?? 256 * 1024;
  const base = options.basePath.replace(/\/+$/, '');
  const rate = new NotificationRate(options.rate ?? { perSecond: 20, burst: 100 }, options.now ?? Date.now);
  const queue: Claim[] = [];
  let running = 0;
  let waiters: Array<() => void> = [];
  const logged = new Map<string, { minute: number; lines: number }>();

  const reject = (source: PushSource | 'unknown', reason: RejectReason, where: Record<string, unknown> = {}): void => {
    counters.inc('connector_push_notifications_rejected_total', { source, reason });
    // Counted always; logged a few times a minute per reason, never with the body or a secret.
    const minute = Math.floor((options.now ?? Date.now)() / 60_000);
    const key = `${source}:${reason}`;
    const seen = logged.get(key);
    const entry = seen && seen.minute === minute ? seen : { minute, lines: 0 };
    logged.set(key, entry);
    if (entry.lines++ < LOG_LINES_PER_MINUTE) logger.warn({ source, reason, ...where }, 'push notification rejected');
  };

  const settleIfIdle = (): void => {
    if (running > 0 || queue.length > 0) return;
    const done = waiters;
    waiters = [];
    for (const resolve of done) resolve();
  };

  const check = async (claim: Claim): Promise<void> => {
    const shownId = claim.id.slice(0, 80);
    let known: KnownSubscription | undefined;
    try {
      known = await options.findSubscription(claim.id);
    } catch (e) {
      return reject(claim.source, 'lookup_failed', { subscriptionId: shownId, error: e instanceof Error ? e.message : String(e) });
    }
    if (!known || known.source !== claim.source) return reject(claim.source, 'unknown_subscription', { subscriptionId: shownId });
    if (!secretMatches(claim.secret, known.secretSha256)) return reject(claim.source, 'bad_secret', { subscriptionId: shownId, connectorId: known.connectorId });
    // Counted after the secret: a forged flood naming a real subscription cannot use up its budget.
    if (!rate.take(`${claim.source}:${claim.id}`)) return reject(claim.source, 'rate_limited', { subscriptionId: shownId });
    counters.inc('connector_push_notifications_accepted_total', { source: claim.source });
    if (claim.driveSync) return;
    if (claim.lifecycle) options.onLifecycle(known.connectorId, { event: claim.lifecycle, subscriptionId: known.id });
    else options.onChange(known.connectorId, claim.source);
  };

  const pump = (): void => {
    while (running < CHECKS_IN_FLIGHT && queue.length > 0) {
      const claim = queue.shift() as Claim;
      running++;
      void check(claim)
        .catch((e: unknown) => logger.error({ error: e instanceof Error ? e.message : String(e) }, 'push notification check failed'))
        .finally(() => {
          running--;
          pump();
          settleIfIdle();
        });
    }
  };

  const enqueue = (claims: Claim[]): void => {
    for (const claim of claims) {
      if (queue.length >= MAX_QUEUED_CHECKS) reject(claim.source, 'overloaded');
      else queue.push(claim);
    }
    pump();
  };

  const server = createServer((req, res) => {
    void answer(req, res).catch((e: unknown) => {
      logger.error({ error: e instanceof Error ? e.message : String(e) }, 'push notification request failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // A client that trickles its request is cut off long before Graph's 10 s.
  server.headersTimeout = 5000;
  server.requestTimeout = 5000;

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://endpoint');
    const route = url.pathname.startsWith(base) ? url.pathname.slice(base.length) : '';
    const source: PushSource | undefined = route === NOTIFICATION_PATHS.drive ? 'drive' : route === NOTIFICATION_PATHS.graph || route === NOTIFICATION_PATHS.graphLifecycle ? 'graph' : undefined;
    counters.inc('connector_push_notifications_received_total', { source: source ?? 'unknown' });
    if (!source) {
      reject('unknown', 'route');
      return end(req, res, 404);
    }
    if (req.method !== 'POST') {
      reject(source, 'method');
      return end(req, res, 405);
    }
    const validationToken = source === 'graph' ? url.searchParams.get('validationToken') : null;
    if (validationToken !== null) {
      // Graph's handshake on creating a subscription (and on its lifecycle URL): the token echoed as
      // text/plain with 200 within 10 s ("Notification endpoint validation", same page).
      if (validationToken.length === 0 || validationToken.length > MAX_VALIDATION_TOKEN) {
        reject(source, 'malformed');
        return end(req, res, 400);
      }
      counters.inc('connector_push_validations_total', { source });
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(validationToken);
      return;
    }
    const body = await readCapped(req, maxBody);
    if (body === 'too_large') {
      reject(source, 'too_large');
      // The rest of the body is not read: the connection closes once the answer is out.
      res.on('finish', () => req.destroy());
      res.writeHead(413, { connection: 'close' }).end();
      return;
    }
    const claims = source === 'graph' ? graphClaims(body) : driveClaims(req);
    if (!claims) {
      reject(source, 'malformed');
      return end(req, res, 400);
    }
    // Answered before any check: Graph counts 2xx as delivered (202: queued), Drive any 2xx as success
    // ("Notifications for resource changes", developers.google.com/drive/api/guides/push).
    res.writeHead(source === 'graph' ? 202 : 200).end();
    enqueue(claims);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    server,
    idle: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        settleIfIdle();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function end(req: IncomingMessage, res: ServerResponse, status: number): void {
  req.resume();
  res.writeHead(status).end();
}

/** The body, or `too_large` as soon as it passes the cap (the rest is not read). */
async function readCapped(req: IncomingMessage, max: number): Promise<Buffer | 'too_large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return 'too_large';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return 'too_large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : undefined);

/**
 * Graph's notification collection `{"value": [{subscriptionId, clientState, lifecycleEvent?, …}]}`
 * ("changeNotificationCollection resource type"); undefined when it is not one.
 */
function graphClaims(body: Buffer): Claim[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const value = (parsed as { value?: unknown } | null)?.value;
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const claims: Claim[] = [];
  for (const item of value.slice(0, MAX_ITEMS_PER_POST)) {
    const n = item as Record<string, unknown> | null;
    const id = text(n?.subscriptionId);
    if (!id) return undefined;
    const lifecycle = text(n?.lifecycleEvent);
    if (lifecycle !== undefined && !LIFECYCLE_EVENTS.has(lifecycle)) return undefined;
    claims.push({ source: 'graph', id, secret: text(n?.clientState), ...(lifecycle ? { lifecycle: lifecycle as LifecycleEvent['event'] } : {}) });
  }
  return claims;
}

/** Drive's message is its headers: X-Goog-Channel-ID, X-Goog-Channel-Token, X-Goog-Resource-State (same Google page). */
function driveClaims(req: IncomingMessage): Claim[] | undefined {
  const header = (name: string): string | undefined => {
    const v = req.headers[name];
    return text(Array.isArray(v) ? v[0] : v);
  };
  const id = header('x-goog-channel-id');
  const state = header('x-goog-resource-state');
  if (!id || !state) return undefined;
  return [{ source: 'drive', id, secret: header('x-goog-channel-token'), ...(state === 'sync' ? { driveSync: true } : {}) }];
}
