import { AsyncLocalStorage } from 'node:async_hooks';

/** Fields every log line written during one activity carries (connectorId, workflowId, runId). */
export type LogContext = Record<string, string | number>;

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `work` with `fields` added to every log line written inside it, however deep. */
export function withLogContext<T>(fields: LogContext, work: () => T): T {
  return storage.run({ ...storage.getStore(), ...fields }, work);
}

/** The fields of the activity this code runs in; empty outside one (pino's mixin). */
export function currentLogContext(): LogContext {
  return storage.getStore() ?? {};
}
