import { createServer, type Server } from 'node:http';
import { renderMetrics, type Counters } from './metrics.js';

/** One dependency's check: resolves when it answers, rejects with why it does not. */
export type HealthCheck = () => Promise<void>;

export interface HealthServerOptions {
  host: string;
  port: number;
  checks: Record<string, HealthCheck>;
  /** Ready means: every check passes and the service's own loops are running. */
  isReady: () => boolean;
  counters: Counters;
  /** The Temporal runtime's Prometheus exporter, served on the same /metrics. */
  runtimeMetricsUrl?: string;
  /** Refreshes gauges read from elsewhere (the database) before /metrics is rendered; a failure leaves the last values. */
  refreshGauges?: () => Promise<void>;
  timeoutMs?: number;
}

async function runCheck(check: HealthCheck, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `GET /healthz`: `{"status":"healthy","nats":"connected","minio":"connected","database":"connected","temporal":"connected"}`,
 * or 503 with `"unhealthy"` and each failing part named with its error.
 * `GET /readyz`: the same, and the bridge and worker are running. `GET /metrics`: the Temporal runtime's metrics (SDK and sync) and the bridge's counters.
 */
export function startHealthServer(options: HealthServerOptions): Promise<Server> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const server = createServer((req, res) => {
    void (async () => {
      try {
        await answer();
      } catch (e) {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'unhealthy', errors: { service: e instanceof Error ? e.message : String(e) } }));
      }
    })();
    async function answer(): Promise<void> {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || !['/healthz', '/readyz', '/metrics'].includes(path ?? '')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
        return;
      }
      if (path === '/metrics') {
        await options.refreshGauges?.().catch(() => undefined);
        const text = await renderMetrics(options.counters, options.runtimeMetricsUrl);
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text);
        return;
      }
      const names = Object.keys(options.checks);
      const results = await Promise.all(names.map((name) => runCheck(options.checks[name] as HealthCheck, timeoutMs)));
      const body: Record<string, string> = { status: 'healthy' };
      const errors: Record<string, string> = {};
      names.forEach((name, i) => {
        const error = results[i];
        body[name] = error === undefined ? 'connected' : 'disconnected';
        if (error !== undefined) errors[name] = error;
      });
      let healthy = Object.keys(errors).length === 0;
      if (path === '/readyz' && healthy && !options.isReady()) {
        healthy = false;
        errors.service = 'the bridge or worker is not running yet';
      }
      if (!healthy) body.status = 'unhealthy';
      res
        .writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify(healthy ? body : { ...body, errors }));
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}
