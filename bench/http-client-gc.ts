/**
 * What one small GET costs in garbage, by HTTP client: `fetch` (undici's, as the source HTTP layer
 * and the raw script use it), `fetch` with an `AbortSignal.any` signal (as the layer passes the
 * activity's cancellation), and `node:http` with a keep-alive agent (as the store's PUT already
 * is). Each streams 8 KiB bodies from a loopback server in the same process, 8 in flight, into a
 * sink. Run it under V8's GC trace and read the totals with the numbers it prints:
 *
 *   node --max-semi-space-size=4 --trace-gc-nvp bench/http-client-gc.ts fetch > /tmp/gc-fetch.log
 *
 * then sum `allocated=` (scavenges) and `promoted=` over the log's lines, divided by the requests.
 * bench/README.md ("CPU per file: where the worker's garbage collection goes") has the figures.
 */
import { createServer, get, Agent, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

const mode = process.argv[2] ?? 'fetch';
if (!['fetch', 'fetch-signal', 'http'].includes(mode)) throw new Error(`mode is fetch, fetch-signal or http, not ${mode}`);
const requests = Number(process.argv[3] ?? 20_000);
const inFlight = 8;

const body = Buffer.alloc(8192, 7);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-length': body.length });
  res.end(body);
});
await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file`;
const agent = new Agent({ keepAlive: true });
const lifetime = new AbortController();
const sink = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

async function one(): Promise<void> {
  if (mode === 'http') {
    const response = await new Promise<IncomingMessage>((answer, fail) => get(url, { agent }, answer).on('error', fail));
    await pipeline(response, sink());
    return;
  }
  const signal = mode === 'fetch-signal' ? AbortSignal.any([new AbortController().signal, lifetime.signal]) : undefined;
  const response = await fetch(url, signal ? { signal } : {});
  if (!response.body) throw new Error(`no body (${response.status})`);
  await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), sink());
}

let next = 0;
const before = process.cpuUsage();
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next++ < requests) await one();
  }),
);
const cpu = process.cpuUsage(before);
process.stderr.write(`${mode}: ${requests} requests, ${((cpu.user + cpu.system) / 1000 / requests).toFixed(3)} ms of CPU each (client and server)\n`);
server.close();
agent.destroy();
