import { pino, type Logger as PinoLogger } from 'pino';
import { currentLogContext } from './telemetry/log-context.js';

export type Logger = PinoLogger;

/** Keys whose values are never written to a log, at any depth we know of. */
export const REDACTED_PATHS = [
  'config',
  'state',
  '*.config',
  '*.state',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'access_token',
  'refresh_token',
  'client_secret',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  'password',
  '*.password',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: 'echomind-connector' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // Inside an activity, every line carries its connectorId, workflowId and runId (once: a
    // child logger that already binds one of them keeps its own).
    mixin: (_merge: object, _level: number, logger: PinoLogger) => {
      const context = currentLogContext();
      const keys = Object.keys(context);
      if (keys.length === 0) return context;
      const bound = logger.bindings();
      return Object.fromEntries(keys.filter((k) => !(k in bound)).map((k) => [k, context[k]]));
    },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
