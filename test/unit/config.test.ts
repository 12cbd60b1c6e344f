import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

/** The error loadConfig refuses `env` with; a test whose settings are accepted fails here. */
function refusal(env: Record<string, string>): Error {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof Error) return e;
    throw e;
  }
  throw new Error(`expected loadConfig to refuse ${Object.keys(env).join(', ')}, and it accepted them`);
}

describe('configuration', () => {
  it('defaults to the local stack and the real clouds', () => {
    const c = loadConfig({});
    expect(c.nats).toEqual({ url: 'nats://127.0.0.1:4222', streamName: 'ECHOMIND' });
    expect(c.objectStore).toMatchObject({ endPoint: '127.0.0.1', port: 9000, useSSL: false, bucket: 'echomind-documents' });
    expect(c.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'echomind-connector' });
    expect(c.health.port).toBe(8080);
    expect(c.microsoft.graphBaseUrl).toBe('https://graph.microsoft.com/v1.0');
    expect(c.microsoft.loginBaseUrl).toBe('https://login.microsoftonline.com');
    expect(c.google.driveBaseUrl).toBe('https://www.googleapis.com');
    expect(c.google.oauthTokenUrl).toBe('https://oauth2.googleapis.com/token');
  });

  it('reads the transfer limits, the memory budget in MiB', () => {
    expect(loadConfig({}).transfers).toEqual({ filesInFlightPerBatch: 8, filesInFlightPerWorker: 32, bodyBytesInMemoryPerWorker: 32 * 1024 * 1024 });
    expect(loadConfig({ WORKER_TRANSFER_MEMORY_MIB: '64', BATCH_TRANSFER_CONCURRENCY: '4' }).transfers).toMatchObject({
      filesInFlightPerBatch: 4,
      bodyBytesInMemoryPerWorker: 64 * 1024 * 1024,
    });
    expect(() => loadConfig({ WORKER_TRANSFER_MEMORY_MIB: '0' })).toThrow(/WORKER_TRANSFER_MEMORY_MIB must be greater than 0/);
  });

  it('turns push on with NOTIFICATION_PUBLIC_URL: the routes live below its path; off without it', () => {
    expect(loadConfig({}).notifications).toBeUndefined();
    expect(loadConfig({ NOTIFICATION_PUBLIC_URL: 'https://connector.example.com/push/', NOTIFICATION_HOST: '0.0.0.0' }).notifications).toEqual({
      publicUrl: 'https://connector.example.com/push',
      basePath: '/push',
      port: 8090,
      host: '0.0.0.0',
    });
    expect(refusal({ NOTIFICATION_PUBLIC_URL: 'connector.example.com/push' }).message).toMatch(/NOTIFICATION_PUBLIC_URL must be a URL starting with https:\/\/ or http:\/\//);
  });

  it('reads an https MinIO endpoint', () => {
    expect(loadConfig({ MINIO_ENDPOINT: 'https://s3.example.test:8443' }).objectStore).toMatchObject({
      endPoint: 's3.example.test',
      port: 8443,
      useSSL: true,
    });
  });

  const bad: Array<[string, string, RegExp]> = [
    ['NATS_URL', 'http://nats:4222', /^NATS_URL must be a URL starting with nats:\/\//],
    ['NATS_STREAM_NAME', ' ', /^NATS_STREAM_NAME/],
    ['MINIO_ENDPOINT', 'not a host', /^MINIO_ENDPOINT must be host:port/],
    ['MINIO_BUCKET', 'Bad_Bucket', /^MINIO_BUCKET must be a valid S3 bucket name/],
    ['DATABASE_URL', 'mysql://x', /^DATABASE_URL must be a URL starting with postgres:/],
    ['TEMPORAL_ADDRESS', 'localhost', /^TEMPORAL_ADDRESS must be host:port/],
    ['HEALTH_PORT', '99999', /^HEALTH_PORT must be between 0 and 65535/],
    ['HEALTH_PORT', 'eighty', /^HEALTH_PORT must be a port number/],
    ['MS_GRAPH_BASE_URL', 'graph', /^MS_GRAPH_BASE_URL must be a URL/],
    ['GOOGLE_OAUTH_TOKEN_URL', 'ftp://x', /^GOOGLE_OAUTH_TOKEN_URL must be a URL/],
    ['MAX_FILE_SIZE_BYTES', '-5', /^MAX_FILE_SIZE_BYTES must be greater than 0/],
    ['LOG_LEVEL', 'loud', /^LOG_LEVEL must be one of/],
    ['CONNECTOR_ROLE', 'both', /^CONNECTOR_ROLE must be all, bridge or worker/],
  ];
  it.each(bad)('%s=%s is refused with its own message', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrowError(message);
  });

  it('names every bad variable, one per line', () => {
    const error = refusal({ HEALTH_PORT: '-1', NATS_URL: 'x' });
    expect(error).toBeInstanceOf(ConfigError);
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.startsWith('HEALTH_PORT'))).toBe(true);
    expect(lines.some((l) => l.startsWith('NATS_URL'))).toBe(true);
  });

  it('never prints a secret value', () => {
    const { message } = refusal({ DATABASE_URL: 'mysql://user:hunter2@db/x' });
    expect(message).toMatch(/^DATABASE_URL/);
    expect(message).not.toContain('hunter2');
  });

  describe('Temporal Cloud and TLS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'connector-tls-'));
    const cert = join(dir, 'client.pem');
    const key = join(dir, 'client.key');
    writeFileSync(cert, '-----BEGIN CERTIFICATE-----\n');
    writeFileSync(key, '-----BEGIN PRIVATE KEY-----\n');

    it('an mTLS client certificate and key turn TLS on', () => {
      const c = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key });
      expect(c.temporal).toEqual({
        address: 'ns.acct.tmprl.cloud:7233',
        namespace: 'ns.acct',
        taskQueue: 'echomind-connector',
        tls: { certPath: cert, keyPath: key },
      });
    });

    it('an API key turns TLS on and is never printed', () => {
      const c = loadConfig({ TEMPORAL_API_KEY: 'tcak-SECRET' });
      expect(c.temporal.tls).toEqual({});
      expect(c.temporal.apiKey).toBe('tcak-SECRET');
      const { message } = refusal({ TEMPORAL_API_KEY: 'tcak-SECRET', TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key });
      expect(message).toMatch(/^TEMPORAL_API_KEY must not be set with TEMPORAL_TLS_CERT/);
      expect(message).not.toContain('tcak-SECRET');
    });

    it('refuses half a certificate pair, a missing file, and a CA without TLS', () => {
      expect(() => loadConfig({ TEMPORAL_TLS_CERT: cert })).toThrowError(/^TEMPORAL_TLS_KEY must be set with TEMPORAL_TLS_CERT/);
      expect(() => loadConfig({ TEMPORAL_TLS_KEY: key })).toThrowError(/^TEMPORAL_TLS_CERT must be set with TEMPORAL_TLS_KEY/);
      expect(() => loadConfig({ TEMPORAL_TLS_CERT: join(dir, 'nope.pem'), TEMPORAL_TLS_KEY: key })).toThrowError(
        /^TEMPORAL_TLS_CERT must be the path of an existing file/,
      );
      expect(() => loadConfig({ TEMPORAL_TLS_CA: cert })).toThrowError(/^TEMPORAL_TLS must be true when TEMPORAL_TLS_CA/);
      expect(loadConfig({ TEMPORAL_TLS: 'true', TEMPORAL_TLS_CA: cert }).temporal.tls).toEqual({ caPath: cert });
    });
  });
});
