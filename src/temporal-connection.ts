import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from './config.js';

/**
 * How the client and the worker reach Temporal: plain gRPC on a local or
 * in-cluster server, TLS with a client certificate (mTLS) or an API key on
 * Temporal Cloud. The same options serve `Connection` and `NativeConnection`.
 */
export function temporalConnectionOptions(temporal: Config['temporal']): { address: string; tls?: TLSConfig; apiKey?: string } {
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`cannot read the Temporal ${what} ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  const { tls } = temporal;
  return {
    address: temporal.address,
    ...(tls
      ? {
          tls: {
            ...(tls.certPath && tls.keyPath ? { clientCertPair: { crt: read(tls.certPath, 'client certificate'), key: read(tls.keyPath, 'client key') } } : {}),
            ...(tls.caPath ? { serverRootCACertificate: read(tls.caPath, 'server CA') } : {}),
            ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
          },
        }
      : {}),
    ...(temporal.apiKey ? { apiKey: temporal.apiKey } : {}),
  };
}
