import { pino, type Logger as PinoLogger } from 'pino';
import { currentLogContext } from './telemetry/log-context.js';

export type Logger = PinoLogger;

const CENSOR = '[redacted]';

/**
 * Keys whose values are secrets wherever they appear, at any depth (compared
 * lower-case without `_` and `-`, so `client_secret`, `clientSecret` and
 * `MINIO_SECRET_KEY` all match). A key named `state` or `config` is not one:
 * the Temporal SDK's "Worker state changed" line says `"state":"RUNNING"`, and
 * a connector's config is redacted key by key like anything else.
 */
const SECRET_KEYS = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'password',
  'passwd',
  'secret',
  'token',
  'assertion',
  'clientassertion',
  'sessiontoken',
  'xapikey',
]);
/** …and keys that end like one: `refresh_token`, `GOOGLE_SERVICE_ACCOUNT_JSON`'s `private_key`, `TEMPORAL_API_KEY`. Not `nextPageToken`: a listing position, not a credential. */
const SECRET_KEY_ENDINGS = ['secret', 'password', 'apikey', 'privatekey', 'secretkey', 'accesstoken', 'refreshtoken', 'idtoken'];

/** Keys already judged: log lines repeat the same few dozen keys (bounded, so arbitrary keys cannot grow it). */
const judgedKeys = new Map<string, boolean>();

function isSecretKey(key: string): boolean {
  const known = judgedKeys.get(key);
  if (known !== undefined) return known;
  const k = key.toLowerCase().replace(/[_-]/g, '');
  const secret = SECRET_KEYS.has(k) || SECRET_KEY_ENDINGS.some((ending) => k.endsWith(ending));
  if (judgedKeys.size < 1000) judgedKeys.set(key, secret);
  return secret;
}

/** Query and form parameters that carry credentials (OAuth, presigned S3 URLs). */
const SECRET_PARAMS = [
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'client_assertion',
  'assertion',
  'code',
  'password',
  'api_key',
  'key',
  'token',
  'sig',
  'signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
];

/** Secrets recognised by their shape, whatever key (or message) holds them. */
const SECRET_SHAPES: Array<[RegExp, string]> = [
  // PEM private keys (a service-account key's `private_key`).
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, CENSOR],
  // JSON Web Tokens: Microsoft's access tokens, signed assertions.
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, CENSOR],
  // Google's OAuth access tokens.
  [/\bya29\.[A-Za-z0-9._-]+/g, CENSOR],
  // An Authorization header's value.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${CENSOR}`],
  // user:password@ in a URL (DATABASE_URL).
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#@:]+:[^\s/?#@]+@/gi, `$1${CENSOR}@`],
  [new RegExp(`((?:^|[?&\\s])(?:${SECRET_PARAMS.join('|')})=)[^&\\s#"']+`, 'gi'), `$1${CENSOR}`],
];

/**
 * What every shape above needs somewhere in the text (a PEM header, a JWT's `eyJ`, `ya29.`, the
 * scheme word, `://`, `name=`): a text without any of them (ids, hashes, most messages) holds
 * no secret these shapes find, and is not scanned six times.
 */
const MIGHT_HOLD_A_SECRET = /PRIVATE KEY|eyJ|ya29\.|bearer|basic|:\/\/|=/i;

function redactText(text: string): string {
  if (!MIGHT_HOLD_A_SECRET.test(text)) return text;
  let out = text;
  for (const [shape, replacement] of SECRET_SHAPES) out = out.replace(shape, replacement);
  return out;
}

/** A copy of a log line's fields with secret keys and secret-shaped strings censored. */
function redactFields(value: unknown, depth = 0, ancestors = new Set<object>()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null || depth > 12) return value;
  if (ancestors.has(value)) return '[circular]';
  const prototype = Object.getPrototypeOf(value) as unknown;
  const plain = Array.isArray(value) || value instanceof Error || prototype === Object.prototype || prototype === null;
  if (!plain) return value;
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => redactFields(v, depth + 1, ancestors));
    if (value instanceof Error) return redactError(value, depth, ancestors);
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = redactEntry(key, v, depth, ancestors);
    return out;
  } finally {
    ancestors.delete(value);
  }
}

function redactEntry(key: string, v: unknown, depth: number, ancestors: Set<object>): unknown {
  return isSecretKey(key) && v !== undefined && v !== null && v !== '' ? CENSOR : redactFields(v, depth + 1, ancestors);
}

/** A copy of the error (same class, so pino's serializer still names its type) with its text and fields redacted. */
function redactError(e: Error, depth: number, ancestors: Set<object>): Error {
  const copy = Object.create(Object.getPrototypeOf(e) as object) as Error & Record<string, unknown>;
  for (const [key, v] of Object.entries(e)) copy[key] = redactEntry(key, v, depth, ancestors);
  for (const key of ['name', 'message', 'stack', 'cause'] as const) {
    if (Object.hasOwn(e, key)) Object.defineProperty(copy, key, { value: redactFields(e[key], depth + 1, ancestors), enumerable: false, writable: true, configurable: true });
  }
  return copy;
}

/**
 * Standard output, written in chunks of about 4 KiB rather than one write per line (a line per
 * stored file made the write calls a tenth of the worker's CPU per small file), and at least
 * every second when quieter. pino writes what is buffered synchronously when the process exits
 * (process.exit, an uncaught error); only a kill that gives no exit (SIGKILL, a power cut)
 * loses the last second's lines, the caveat pino documents for asynchronous logging.
 */
function bufferedStdout(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 1000 });
}

/**
 * The keys a logger binds, read once per logger: pino's `bindings()` parses the logger's bound
 * JSON on every call (a per-file child logger's line asked it each time). Nothing here calls
 * `setBindings`, which would change them.
 */
const boundKeysOf = new WeakMap<PinoLogger, Set<string>>();

function boundKeys(logger: PinoLogger): Set<string> {
  let keys = boundKeysOf.get(logger);
  if (keys === undefined) {
    keys = new Set(Object.keys(logger.bindings()));
    boundKeysOf.set(logger, keys);
  }
  return keys;
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'echomind-connector' },
    formatters: {
      log: (fields) => redactFields(fields) as Record<string, unknown>,
      bindings: (bindings) => redactFields(bindings) as pino.Bindings,
    },
    hooks: {
      // The message itself: an error's text may quote a URL or a header.
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as Parameters<typeof method>);
      },
    },
    // Inside an activity, every line carries its connectorId, workflowId and runId (once: a
    // child logger that already binds one of them keeps its own).
    mixin: (_merge: object, _level: number, logger: PinoLogger) => {
      const context = currentLogContext();
      const keys = Object.keys(context);
      if (keys.length === 0) return context;
      const bound = boundKeys(logger);
      return Object.fromEntries(keys.filter((k) => !bound.has(k)).map((k) => [k, context[k]]));
    },
  };
  const logger = pino(options, destination ? (destination as pino.DestinationStream) : bufferedStdout());
  // pino applies the bindings formatter to the root's base fields only; a child's bindings are
  // redacted here (children inherit this method).
  type ChildMethod = (this: unknown, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) => unknown;
  const child = Reflect.get(logger, 'child') as ChildMethod;
  const redactedChild: ChildMethod = function (this: unknown, bindings, childOptions) {
    return child.call(this, redactFields(bindings) as pino.Bindings, childOptions);
  };
  Reflect.set(logger, 'child', redactedChild);
  return logger;
}
