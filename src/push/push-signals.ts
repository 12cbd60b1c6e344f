import type { Logger } from '../logger.js';
import type { Counters } from '../metrics.js';

/**
 * Turns trusted notifications into sync requests, debounced per connector: the
 * first notification asks at once (a change reaches EchoMind in seconds); the
 * ones that follow are folded into one more request, sent once the connector's
 * notifications have paused for `windowMs`, or `maxWaitMs` after the first (a
 * steady stream still reaches EchoMind within seconds). A burst of a thousand
 * that arrives within `maxWaitMs` therefore makes two requests, and the sync
 * folds a request that arrives mid-pass into one extra pass: at most two passes;
 * a longer stream asks once more every `maxWaitMs`.
 */
export interface PushSignalsOptions {
  /** Asks for a sync of the connector (signal-with-start, `SyncTrigger = "push"`). */
  request: (connectorId: number) => Promise<void>;
  windowMs: number;
  /** The longest a notification waits for its request (default 5 s): a steady stream gets a pass this often. */
  maxWaitMs?: number;
  logger: Logger;
  counters: Counters;
  /** Runs `fn` after `ms`; returns a cancel. Tests drive it (and `now`) by hand. */
  schedule?: (fn: () => void, ms: number) => () => void;
  now?: () => number;
}

interface Window {
  openedAt: number;
  /** Another notification came while this window was open, the last one at `lastAt`. */
  dirty: boolean;
  lastAt: number;
  cancel?: () => void;
}

const realSchedule = (fn: () => void, ms: number): (() => void) => {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

export class PushSignals {
  private readonly open = new Map<number, Window>();
  private readonly schedule: NonNullable<PushSignalsOptions['schedule']>;
  private readonly now: () => number;
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: PushSignalsOptions) {
    this.schedule = options.schedule ?? realSchedule;
    this.now = options.now ?? Date.now;
  }

  notify(connectorId: number): void {
    if (this.stopped) return;
    const window = this.open.get(connectorId);
    if (window) {
      window.dirty = true;
      window.lastAt = this.now();
      return;
    }
    const opened: Window = { openedAt: this.now(), dirty: false, lastAt: this.now() };
    this.open.set(connectorId, opened);
    const sent = this.send(connectorId).finally(() => {
      this.inFlight.delete(sent);
      this.closeLater(connectorId, opened, this.options.windowMs);
    });
    this.inFlight.add(sent);
  }

  /** Resolves once the requests already under way are answered. */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const window of this.open.values()) window.cancel?.();
    await this.settled();
    this.open.clear();
  }

  /** Closes the window once its notifications paused for windowMs (or it is maxWaitMs old), with one more request if any came. */
  private closeLater(connectorId: number, window: Window, delayMs: number): void {
    if (this.stopped) return;
    window.cancel = this.schedule(() => {
      const now = this.now();
      const quietFor = now - window.lastAt;
      const age = now - window.openedAt;
      if (window.dirty && quietFor < this.options.windowMs && age < (this.options.maxWaitMs ?? 5000)) {
        this.closeLater(connectorId, window, this.options.windowMs - quietFor);
        return;
      }
      this.open.delete(connectorId);
      if (window.dirty) this.notify(connectorId);
    }, delayMs);
  }

  private async send(connectorId: number): Promise<void> {
    const { logger, counters } = this.options;
    try {
      await this.options.request(connectorId);
      counters.inc('connector_push_syncs_requested_total');
      logger.info({ connectorId }, 'push notification: sync requested');
    } catch (e) {
      // The next notification, the keeper's daily pass or the orchestrator's poll brings the change.
      counters.inc('connector_push_sync_request_failures_total');
      logger.warn({ connectorId, error: e instanceof Error ? e.message : String(e) }, 'push notification: could not request a sync');
    }
  }
}
