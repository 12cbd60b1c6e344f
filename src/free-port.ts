import { createServer } from 'node:net';

/**
 * A loopback TCP port free right now, for a listener whose address must be known before it
 * starts (the runtime's metrics exporter cannot report the port it got for 0; tests hand URLs
 * to emulators and services). Another process may take it before it is used: callers bind soon.
 */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('could not find a free loopback port');
  return address.port;
}
