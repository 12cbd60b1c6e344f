import { existsSync, statSync } from 'node:fs';
import type { QuotaSettings } from './budget/source-quotas.js';
import { z } from 'zod';
import { transferConcurrency } from '../temporal.config.js';

/**
 * The service's whole configuration, parsed once from the environment by the
 * entry point and passed down typed. Nothing else reads `process.env`.
 */

const SECRET_NAMES = new Set([
  'MINIO_SECRET_KEY',
  'MS_GRAPH_CLIENT_SECRET',
  'GOOGLE_SERVICE_ACCOUNT_JSON',
  'DATABASE_URL',
  'TEMPORAL_API_KEY',
]);

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, { message: 'must be host:port, e.g. 127.0.0.1:7233' });

// 0 asks the OS for a free port (tests, several replicas on one host).
const port = z.coerce
  .number({ message: 'must be a port number' })
  .int({ message: 'must be a whole number' })
  .min(0, { message: 'must be between 0 and 65535' })
  .max(65535, { message: 'must be between 0 and 65535' });

const positiveInt = z.coerce
  .number({ message: 'must be a number' })
  .int({ message: 'must be a whole number' })
  .positive({ message: 'must be greater than 0' });

const name = z.string().trim().min(1, { message: 'must not be empty' });

const readableFile = z.string().refine((path) => existsSync(path) && statSync(path).isFile(), {
  message: 'must be the path of an existing file',
});

const bool = z.enum(['true', 'false'], { message: 'must be true or false' });

/** `tenant-id=number,other-id=number`: a number per Microsoft tenant. */
const perTenant = z
  .string()
  .regex(/^\s*([^=,\s]+\s*=\s*\d+\s*)(,\s*[^=,\s]+\s*=\s*\d+\s*)*$/, { message: 'must be tenant-id=number pairs separated by commas, e.g. contoso-id=12000' })
  .transform((raw) => Object.fromEntries(raw.split(',').map((pair) => pair.split('=').map((s) => s.trim())).map(([k, v]) => [k ?? '', Number(v)])));

export const envSchema = z.object({
  NATS_URL: url(['nats:', 'tls:', 'ws:', 'wss:']).default('nats://127.0.0.1:4222'),
  NATS_STREAM_NAME: name.default('ECHOMIND'),
  MINIO_ENDPOINT: z
    .string()
    .regex(/^(https?:\/\/)?[A-Za-z0-9.\-[\]:]+(:\d{1,5})?$/, {
      message: 'must be host:port or http(s)://host:port, e.g. 127.0.0.1:9000',
    })
    .default('127.0.0.1:9000'),
  MINIO_ACCESS_KEY: name.default('minioadmin'),
  MINIO_SECRET_KEY: name.default('minioadmin'),
  MINIO_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
      message: 'must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)',
    })
    .default('echomind-documents'),
  MINIO_USE_SSL: z.enum(['true', 'false'], { message: 'must be true or false' }).default('false'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).default(
    'postgresql://echomind:echomind@127.0.0.1:5432/echomind',
  ),
  MS_GRAPH_CLIENT_ID: z.string().default(''),
  MS_GRAPH_CLIENT_SECRET: z.string().default(''),
  MS_GRAPH_TENANT_ID: z.string().default(''),
  GOOGLE_SERVICE_ACCOUNT_JSON: z.string().default(''),
  MS_GRAPH_BASE_URL: url(['https:', 'http:']).default('https://graph.microsoft.com/v1.0'),
  MS_LOGIN_BASE_URL: url(['https:', 'http:']).default('https://login.microsoftonline.com'),
  GOOGLE_DRIVE_BASE_URL: url(['https:', 'http:']).default('https://www.googleapis.com'),
  GOOGLE_OAUTH_TOKEN_URL: url(['https:', 'http:']).default('https://oauth2.googleapis.com/token'),
  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: name.default('default'),
  TEMPORAL_TASK_QUEUE: name.default('echomind-connector'),
  /** TLS to the frontend (implied by a client certificate or an API key: Temporal Cloud). */
  TEMPORAL_TLS: bool.default('false'),
  /** mTLS client certificate and its key (PEM files), e.g. Temporal Cloud's namespace certificate. */
  TEMPORAL_TLS_CERT: readableFile.optional(),
  TEMPORAL_TLS_KEY: readableFile.optional(),
  /** CA of the server's certificate, when it is not a public one (a self-hosted cluster). */
  TEMPORAL_TLS_CA: readableFile.optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().trim().min(1).optional(),
  /** Temporal Cloud API key (instead of a client certificate). */
  TEMPORAL_API_KEY: z.string().trim().min(1).optional(),
  HEALTH_PORT: port.default(8080),
  HEALTH_HOST: z.string().min(1).default('127.0.0.1'),
  /** The public base URL (behind the TLS ingress) where Graph and Drive send change notifications; unset: push is off. */
  NOTIFICATION_PUBLIC_URL: url(['https:', 'http:']).optional(),
  NOTIFICATION_PORT: port.default(8090),
  NOTIFICATION_HOST: z.string().min(1).default('127.0.0.1'),
  MAX_FILE_SIZE_BYTES: positiveInt.default(512 * 1024 * 1024),
  /** Files one batch activity transfers at once. */
  BATCH_TRANSFER_CONCURRENCY: positiveInt.default(transferConcurrency.filesInFlightPerBatch),
  /** Files in flight on one worker, across all its syncs. */
  WORKER_TRANSFER_CONCURRENCY: positiveInt.default(transferConcurrency.filesInFlightPerWorker),
  /** MiB of file bodies one worker holds in memory at once, across all its syncs. */
  WORKER_TRANSFER_MEMORY_MIB: positiveInt.default(transferConcurrency.bodyMiBInMemoryPerWorker),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  CONNECTOR_ROLE: z
    .enum(['all', 'bridge', 'worker'], { message: 'must be all, bridge or worker' })
    .default('all'),
  /** Request budgets: shared by every replica through PostgreSQL, or kept by each worker alone. */
  SOURCE_BUDGET: z.enum(['shared', 'per-worker'], { message: 'must be shared or per-worker' }).default('shared'),
  /** Licence count of a Microsoft tenant not listed in SHAREPOINT_TENANT_LICENSES (its resource-unit tier). */
  SHAREPOINT_LICENSES: z.coerce.number({ message: 'must be a number' }).int().min(0, { message: 'must be 0 or more' }).default(0),
  SHAREPOINT_TENANT_LICENSES: perTenant.optional(),
  SHAREPOINT_TENANT_UNITS_PER_MINUTE: perTenant.optional(),
  GOOGLE_DRIVE_QUERIES_PER_MINUTE: positiveInt.default(12_000),
  GOOGLE_DRIVE_QUERIES_PER_MINUTE_PER_USER: positiveInt.default(12_000),
  /** Length of the sources' quota "minute" in ms: 60,000 as the sources count; tests and benchmarks shorten it with their emulator's. */
  SOURCE_QUOTA_WINDOW_MS: positiveInt.default(60_000),
}).superRefine((e, ctx) => {
  if (e.TEMPORAL_TLS_CERT && !e.TEMPORAL_TLS_KEY) {
    ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS_KEY'], message: 'must be set with TEMPORAL_TLS_CERT (a client certificate needs its private key)' });
  }
  if (e.TEMPORAL_TLS_KEY && !e.TEMPORAL_TLS_CERT) {
    ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS_CERT'], message: 'must be set with TEMPORAL_TLS_KEY (a private key needs its client certificate)' });
  }
  if (e.TEMPORAL_API_KEY && e.TEMPORAL_TLS_CERT) {
    ctx.addIssue({ code: 'custom', path: ['TEMPORAL_API_KEY'], message: 'must not be set with TEMPORAL_TLS_CERT: authenticate with an API key or a client certificate, not both' });
  }
  if (e.TEMPORAL_TLS === 'false' && (e.TEMPORAL_TLS_CA || e.TEMPORAL_TLS_SERVER_NAME) && !e.TEMPORAL_TLS_CERT && !e.TEMPORAL_API_KEY) {
    ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS'], message: 'must be true when TEMPORAL_TLS_CA or TEMPORAL_TLS_SERVER_NAME is set' });
  }
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  nats: { url: string; streamName: string };
  objectStore: {
    endPoint: string;
    port: number | undefined;
    useSSL: boolean;
    accessKey: string;
    secretKey: string;
    bucket: string;
  };
  databaseUrl: string;
  microsoft: {
    clientId: string;
    clientSecret: string;
    tenantId: string;
    graphBaseUrl: string;
    loginBaseUrl: string;
  };
  google: {
    /** Path to, or inline JSON of, a service-account key; empty when not configured. */
    serviceAccountJson: string;
    driveBaseUrl: string;
    oauthTokenUrl: string;
  };
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    /** Present when the frontend is reached over TLS (Temporal Cloud, a TLS-enabled cluster). */
    tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
    apiKey?: string;
  };
  health: { port: number; host: string };
  /** The notification endpoint, present when NOTIFICATION_PUBLIC_URL is set (push on for connectors whose config says `push: true`). */
  notifications?: { publicUrl: string; basePath: string; port: number; host: string };
  maxFileSizeBytes: number;
  transfers: { filesInFlightPerBatch: number; filesInFlightPerWorker: number; bodyBytesInMemoryPerWorker: number };
  logLevel: Env['LOG_LEVEL'];
  role: Env['CONNECTOR_ROLE'];
  budgets: { mode: Env['SOURCE_BUDGET'] } & QuotaSettings;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function splitEndpoint(raw: string, forceSSL: boolean): Pick<Config['objectStore'], 'endPoint' | 'port' | 'useSSL'> {
  const withScheme = /^https?:\/\//.test(raw) ? raw : `${forceSSL ? 'https' : 'http'}://${raw}`;
  const parsed = new URL(withScheme);
  return {
    endPoint: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : undefined,
    useSSL: parsed.protocol === 'https:',
  };
}

/**
 * Parses the environment. Throws a ConfigError whose message has one line per
 * bad variable, naming it and what is wrong, and never echoing a secret.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in envSchema.shape && value !== undefined && value !== ''),
  );
  const result = envSchema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? 'environment');
      const shown = SECRET_NAMES.has(variable) || present[variable] === undefined ? '' : ` (got ${JSON.stringify(present[variable])})`;
      return `${variable} ${issue.message}${shown}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const e = result.data;
  return {
    nats: { url: e.NATS_URL, streamName: e.NATS_STREAM_NAME },
    objectStore: {
      ...splitEndpoint(e.MINIO_ENDPOINT, e.MINIO_USE_SSL === 'true'),
      accessKey: e.MINIO_ACCESS_KEY,
      secretKey: e.MINIO_SECRET_KEY,
      bucket: e.MINIO_BUCKET,
    },
    databaseUrl: e.DATABASE_URL,
    microsoft: {
      clientId: e.MS_GRAPH_CLIENT_ID,
      clientSecret: e.MS_GRAPH_CLIENT_SECRET,
      tenantId: e.MS_GRAPH_TENANT_ID,
      graphBaseUrl: e.MS_GRAPH_BASE_URL.replace(/\/+$/, ''),
      loginBaseUrl: e.MS_LOGIN_BASE_URL.replace(/\/+$/, ''),
    },
    google: {
      serviceAccountJson: e.GOOGLE_SERVICE_ACCOUNT_JSON,
      driveBaseUrl: e.GOOGLE_DRIVE_BASE_URL.replace(/\/+$/, ''),
      oauthTokenUrl: e.GOOGLE_OAUTH_TOKEN_URL,
    },
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      ...(e.TEMPORAL_TLS === 'true' || e.TEMPORAL_TLS_CERT || e.TEMPORAL_API_KEY
        ? {
            tls: {
              ...(e.TEMPORAL_TLS_CERT ? { certPath: e.TEMPORAL_TLS_CERT } : {}),
              ...(e.TEMPORAL_TLS_KEY ? { keyPath: e.TEMPORAL_TLS_KEY } : {}),
              ...(e.TEMPORAL_TLS_CA ? { caPath: e.TEMPORAL_TLS_CA } : {}),
              ...(e.TEMPORAL_TLS_SERVER_NAME ? { serverName: e.TEMPORAL_TLS_SERVER_NAME } : {}),
            },
          }
        : {}),
      ...(e.TEMPORAL_API_KEY ? { apiKey: e.TEMPORAL_API_KEY } : {}),
    },
    health: { port: e.HEALTH_PORT, host: e.HEALTH_HOST },
    ...(e.NOTIFICATION_PUBLIC_URL
      ? {
          notifications: {
            publicUrl: e.NOTIFICATION_PUBLIC_URL.replace(/\/+$/, ''),
            // The ingress forwards the public path unchanged: the routes live below it.
            basePath: new URL(e.NOTIFICATION_PUBLIC_URL).pathname.replace(/\/+$/, ''),
            port: e.NOTIFICATION_PORT,
            host: e.NOTIFICATION_HOST,
          },
        }
      : {}),
    maxFileSizeBytes: e.MAX_FILE_SIZE_BYTES,
    transfers: {
      filesInFlightPerBatch: e.BATCH_TRANSFER_CONCURRENCY,
      filesInFlightPerWorker: e.WORKER_TRANSFER_CONCURRENCY,
      bodyBytesInMemoryPerWorker: e.WORKER_TRANSFER_MEMORY_MIB * 1024 * 1024,
    },
    logLevel: e.LOG_LEVEL,
    role: e.CONNECTOR_ROLE,
    budgets: {
      mode: e.SOURCE_BUDGET,
      sharePoint: {
        defaultLicenses: e.SHAREPOINT_LICENSES,
        tenantLicenses: e.SHAREPOINT_TENANT_LICENSES ?? {},
        tenantUnitsPerMinute: e.SHAREPOINT_TENANT_UNITS_PER_MINUTE ?? {},
      },
      drive: { queriesPerMinute: e.GOOGLE_DRIVE_QUERIES_PER_MINUTE, queriesPerMinutePerUser: e.GOOGLE_DRIVE_QUERIES_PER_MINUTE_PER_USER },
      windowMs: e.SOURCE_QUOTA_WINDOW_MS,
    },
  };
}
