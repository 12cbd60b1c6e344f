import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fromBinary } from '@bufbuild/protobuf';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { Config } from '../../src/config.js';
import { DocumentProcessRequestSchema, type DocumentProcessRequest } from '../../src/gen/echomind/internal/connector_sync_pb.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { freePort, processAlive, waitFor } from '../support/integration.js';

export { freePort };
import type { Observer } from '../support/observer.js';
import { envFor, workflowBundleArgs } from '../support/service-harness.js';
import { SCALE } from './chaos-scale.js';

const run = promisify(execFile);
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

// ---- the figures each chaos test reports ----------------------------------------

const resultsDir = `${repoRoot}chaos-results`;

/** Prints one test's figures and appends them to chaos-results/figures-<scale>.jsonl (docs/RELIABILITY.md). */
export function recordFigure(item: string, figures: Record<string, number | string | boolean>): void {
  const line = { item, scale: SCALE.name, at: new Date().toISOString(), ...figures };
  mkdirSync(resultsDir, { recursive: true });
  appendFileSync(`${resultsDir}/figures-${SCALE.name}.jsonl`, `${JSON.stringify(line)}\n`);
  console.log(`[chaos] ${item}: ${JSON.stringify(figures)}`);
}

/** Every DocumentProcessRequest on the stream right now (an ordered consumer from the start), with its Nats-Msg-Id. */
export async function documentMessagesOnStream(
  observer: Observer,
  streamName: string,
): Promise<Array<{ request: DocumentProcessRequest; msgId: string | undefined }>> {
  const info = await observer.jsm.streams.info(streamName, { subjects_filter: 'document.process' });
  const expected = info.state.subjects?.['document.process'] ?? 0;
  const seen: Array<{ request: DocumentProcessRequest; msgId: string | undefined }> = [];
  if (expected === 0) return seen;
  const consumer = await observer.js.consumers.get(streamName, { filter_subjects: ['document.process'], deliver_policy: DeliverPolicy.All });
  while (seen.length < expected) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: 3000 });
    let n = 0;
    for await (const m of batch) {
      n++;
      seen.push({ request: fromBinary(DocumentProcessRequestSchema, m.data), msgId: m.headers?.get('Nats-Msg-Id') });
    }
    if (n === 0) break;
  }
  await consumer.delete().catch(() => undefined);
  return seen;
}

/**
 * What the issue calls "the same result": exactly `count` live rows, one object
 * per row under the connector's prefix and no other, one DocumentProcessRequest
 * per row on the stream, and the connector `active`.
 */
export async function outcomeOf(observer: Observer, config: Config, connectorId: number) {
  const connector = await observer.db.selectFrom('connectors').selectAll().where('id', '=', connectorId).executeTakeFirstOrThrow();
  const rows = await observer.db.selectFrom('documents').selectAll().where('connector_id', '=', connectorId).execute();
  const live = rows.filter((r) => r.status !== 'deleted');
  const keys = await new ObjectStore(config.objectStore).listKeys(`connectors/${connectorId}/`);
  const messages = (await documentMessagesOnStream(observer, config.nats.streamName)).filter((m) => m.request.connectorId === connectorId);
  const perDocument = new Map<number, number>();
  for (const m of messages) perDocument.set(m.request.documentId, (perDocument.get(m.request.documentId) ?? 0) + 1);
  return {
    status: connector.status,
    statusMessage: connector.status_message ?? '',
    liveRows: live.length,
    distinctUrls: new Set(live.map((r) => r.url)).size,
    objects: keys.length,
    /** Keys that belong to no live row: orphans of repeated transfers. */
    orphanObjects: keys.filter((k) => !live.some((r) => r.url === k)).length,
    rowsWithoutObject: live.filter((r) => !keys.includes(r.url ?? '')).length,
    messages: messages.length,
    distinctMessages: perDocument.size,
    duplicateMessages: [...perDocument.values()].filter((n) => n > 1).length,
    messagesForUnknownRows: [...perDocument.keys()].filter((id) => !live.some((r) => Number(r.id) === id)).length,
  };
}

/** What a chaos test promises in the end: the connector active, each of `files` stored once (one live row, one object, no orphan) and announced once. */
export function exactlyOnce(files: number) {
  return { status: 'active', liveRows: files, objects: files, orphanObjects: 0, messages: files, distinctMessages: files, duplicateMessages: 0 };
}

// ---- service processes ------------------------------------------------------------

export interface ServiceProcess {
  child: ChildProcess;
  healthPort: number;
  output(): string;
  exited(): boolean;
  /** SIGKILL: no shutdown, no checkpoint, as when a machine dies. */
  kill(): Promise<void>;
  terminate(): Promise<number | null>;
  healthz(): Promise<{ status: number; body: Record<string, unknown> }>;
  metrics(): Promise<string>;
}


const live = new Set<ServiceProcess>();

/** SIGKILLs every service process a chaos test started and did not stop (afterAll). */
export async function killAllServices(): Promise<void> {
  await Promise.all([...live].map((s) => s.kill()));
}

/**
 * `src/main.ts` in a process of its own (node with the tsx loader, so a signal
 * reaches the service itself), with the health endpoint on a free port and the
 * test run's workflow bundle.
 */
export async function spawnService(
  config: Config,
  options: { role?: 'all' | 'worker' | 'bridge'; env?: Record<string, string>; waitReady?: boolean } = {},
): Promise<ServiceProcess> {
  const healthPort = await freePort();
  const role = options.role ?? 'all';
  const child = spawn(`${repoRoot}node_modules/.bin/node`, ['--import', 'tsx', 'src/main.ts', ...workflowBundleArgs()], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      ...envFor(config, { HEALTH_PORT: String(healthPort), CONNECTOR_ROLE: role, ...options.env }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const service: ServiceProcess = {
    child,
    healthPort,
    output: () => output,
    exited,
    async kill() {
      live.delete(service);
      if (exited()) return;
      const gone = once(child, 'exit');
      child.kill('SIGKILL');
      await gone;
    },
    async terminate() {
      live.delete(service);
      if (exited()) return child.exitCode;
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      const [code] = (await gone) as [number | null];
      clearTimeout(timer);
      return code;
    },
    async healthz() {
      const res = await fetch(`http://127.0.0.1:${healthPort}/healthz`, { signal: AbortSignal.timeout(10_000) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${healthPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
      return res.text();
    },
  };
  live.add(service);
  if (options.waitReady !== false) {
    await waitFor(
      'the service process to start',
      () => {
        if (exited()) throw new Error(`the service exited during start-up:\n${output.slice(-3000)}`);
        return Promise.resolve(output.includes('echomind-connector started'));
      },
      120_000,
      100,
    );
  }
  return service;
}

/** A counter's value in Prometheus text (summed over label sets when `labels` is omitted). */
export function counterValue(metrics: string, name: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

// ---- the stack's own servers (this checkout's scripts/stack.sh) -------------------

export type StackServer = 'nats' | 'postgres' | 's3' | 'temporal';

const stackDir = process.env.STACK_DIR ?? `${repoRoot}.stack`;

function stackPid(name: StackServer): number {
  const [pid] = readFileSync(`${stackDir}/run/${name}.pid`, 'utf8').trim().split(/\s+/);
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`no PID recorded for ${name} in ${stackDir}/run`);
  return n;
}


/**
 * Stops one server of this checkout's stack (the PID `scripts/stack.sh up`
 * recorded): PostgreSQL with a fast shutdown (SIGINT), the others with SIGTERM.
 */
export async function stopStackServer(name: StackServer): Promise<void> {
  const pid = stackPid(name);
  process.kill(pid, name === 'postgres' ? 'SIGINT' : 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (processAlive(pid)) {
    if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts whatever server of the stack is not running (scripts/stack.sh up) and waits until all answer. */
export async function startStack(): Promise<void> {
  await run('bash', ['scripts/stack.sh', 'up'], { cwd: repoRoot, env: process.env, timeout: 180_000 });
}

/** Deterministic pseudo-random numbers, so a failing chaos run can be repeated with CHAOS_SEED. */
export function seededRandom(seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000)): { next: () => number; seed: number } {
  let s = seed >>> 0 || 1;
  return {
    seed,
    next: () => {
      // mulberry32
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP proxy in front of a server. `hold()` keeps every byte the server sends
 * from reaching the client (requests still get through): the client's calls
 * are carried out but it never hears back, until `release()`.
 */
export async function startHoldingProxy(target: { host: string; port: number }) {
  const { createServer: createTcpServer, connect: tcpConnect } = await import('node:net');
  let holding = false;
  const held: Array<() => void> = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = createTcpServer((client) => {
    const upstream = tcpConnect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      if (holding) held.push(() => client.write(d));
      else client.write(d);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const write of held.splice(0)) write();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `host:port` → its parts. */
export function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}
