/**
 * What one small GET costs in garbage and CPU, by HTTP client: `fetch` (as the raw script uses
 * it), `fetch` with an `AbortSignal.any` signal (as the source HTTP layer passed the activity's
 * cancellation until it moved off fetch), `node:http` with a keep-alive agent (as the store's PUT
 * is), and undici's `request` with a headers timeout and a signal (as the source HTTP layer sends,
 * src/http/transport.ts). Each streams 8 KiB bodies from a loopback server in the same process, 8 in flight,
 * into a sink; the figures are client and server together, so only their differences count.
 *
 *   node_modules/.bin/node bench/http-client-gc.ts [requests]
 *
 * runs each client in its own process under the production young-generation size and V8's GC
 * trace (`--trace-gc-nvp`), and prints a Markdown table: bytes allocated and promoted to the old
 * generation per request (summed over the trace's young collections), major collections, CPU.
 * bench/README.md ("CPU per file: where the worker's garbage collection goes") has the figures.
 */
import { spawnSync } from 'node:child_process';
import { Agent, createServer, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { Agent as UndiciAgent, request } from 'undici';

const CLIENTS = ['http', 'undici-request', 'fetch', 'fetch-signal'] as const;
type Client = (typeof CLIENTS)[number];
const IN_FLIGHT = 8;
/** The young generation's size in production (RUNTIME_NODE_FLAGS); it decides what survives. */
const SEMI_SPACE_FLAG = '--max-semi-space-size=4';

/** One client's run, in this process: its CPU per request on standard error, the GC trace on standard output. */
async function measure(client: Client, requests: number): Promise<void> {
  const body = Buffer.alloc(8192, 7);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file`;
  const agent = new Agent({ keepAlive: true });
  const dispatcher = new UndiciAgent();
  const lifetime = new AbortController();
  const sink = () =>
    new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    });
  const one = async (): Promise<void> => {
    if (client === 'http') {
      const response = await new Promise<IncomingMessage>((answer, fail) => get(url, { agent }, answer).on('error', fail));
      await pipeline(response, sink());
      return;
    }
    if (client === 'undici-request') {
      const response = await request(url, { dispatcher, headersTimeout: 60_000, signal: lifetime.signal });
      await pipeline(response.body, sink());
      return;
    }
    const signal = client === 'fetch-signal' ? AbortSignal.any([new AbortController().signal, lifetime.signal]) : undefined;
    const response = await fetch(url, signal ? { signal } : {});
    if (!response.body) throw new Error(`no body (${response.status})`);
    await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), sink());
  };
  let next = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < requests) await one();
    }),
  );
  const cpu = process.cpuUsage(before);
  process.stderr.write(`cpuMsPerRequest=${((cpu.user + cpu.system) / 1000 / requests).toFixed(3)}\n`);
  server.close();
  agent.destroy();
  await dispatcher.close();
}

/** Sums a `--trace-gc-nvp` log: bytes allocated and promoted by young collections, and the count of major ones. */
function gcTotals(trace: string): { allocated: number; promoted: number; majors: number } {
  const totals = { allocated: 0, promoted: 0, majors: 0 };
  for (const line of trace.split('\n')) {
    const kind = / gc=(\w+) /.exec(line)?.[1];
    if (kind === 'mc') totals.majors++;
    if (kind !== 's') continue;
    totals.allocated += Number(/ allocated=(\d+)/.exec(line)?.[1] ?? 0);
    totals.promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return totals;
}

const [first, second] = process.argv.slice(2);
if ((CLIENTS as readonly string[]).includes(first ?? '')) {
  await measure(first as Client, Number(second));
} else {
  const requests = Number(first ?? 20_000);
  if (!Number.isSafeInteger(requests) || requests <= 0) throw new Error(`requests must be a positive integer, not ${first}`);
  const rows = CLIENTS.map((client) => {
    const run = spawnSync(process.execPath, [SEMI_SPACE_FLAG, '--trace-gc-nvp', fileURLToPath(import.meta.url), client, String(requests)], {
      encoding: 'utf8',
      maxBuffer: 512 * 1024 * 1024,
    });
    const cpu = /cpuMsPerRequest=([\d.]+)/.exec(run.stderr)?.[1];
    if (run.status !== 0 || cpu === undefined) throw new Error(`the ${client} run failed (exit ${run.status}): ${run.stderr.slice(-2000)}`);
    return { client, cpu, ...gcTotals(run.stdout) };
  });
  process.stdout.write('| client | allocated a request | promoted a request | major collections | CPU a request |\n|---|---|---|---|---|\n');
  for (const r of rows) {
    const kb = (bytes: number) => `${(bytes / requests / 1000).toFixed(1)} KB`;
    process.stdout.write(`| ${r.client} | ${kb(r.allocated)} | ${kb(r.promoted)} | ${r.majors} | ${r.cpu} ms |\n`);
  }
}
