import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A subscriber's endpoint on loopback, for tests of the emulators' push: it answers Graph's
 * validation handshake as `validation` says, acknowledges every other POST with 202, and records
 * what arrived. `arrivals(n)` resolves once n messages have come, so a test waits on what it
 * expects, never on time.
 */

export interface ReceivedPush {
  url: URL;
  headers: IncomingHttpHeaders;
  body: string;
}

/** How the handshake is answered: echo the token (as Graph asks), refuse it, echo something else, or never answer. */
export type ValidationAnswer = 'echo' | 'refuse' | 'wrong' | 'silent';

export interface PushListener {
  readonly url: string;
  /** Handshakes (POSTs with `validationToken`), with the token as the listener decoded it. */
  readonly validations: Array<{ token: string; contentType: string | undefined }>;
  /** Every other POST, in arrival order. */
  readonly received: ReceivedPush[];
  validation: ValidationAnswer;
  arrivals(count: number): Promise<ReceivedPush[]>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function startPushListener(validation: ValidationAnswer = 'echo'): Promise<PushListener> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`;
  const waiters: Array<{ count: number; resolve: (received: ReceivedPush[]) => void }> = [];
  const listener: PushListener = {
    url,
    validations: [],
    received: [],
    validation,
    arrivals(count) {
      if (listener.received.length >= count) return Promise.resolve(listener.received.slice());
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = new URL(req.url ?? '/', url);
    const body = await readBody(req);
    const token = target.searchParams.get('validationToken');
    if (token !== null) {
      listener.validations.push({ token, contentType: req.headers['content-type'] });
      if (listener.validation === 'silent') return; // never answered: the emulator's handshake times out
      if (listener.validation === 'refuse') {
        res.writeHead(403).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(listener.validation === 'wrong' ? 'not the token' : token);
      return;
    }
    listener.received.push({ url: target, headers: req.headers, body });
    res.writeHead(202).end();
    for (const waiter of [...waiters]) {
      if (listener.received.length < waiter.count) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(listener.received.slice());
    }
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => res.destroy());
  });
  return listener;
}
