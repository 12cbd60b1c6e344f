import type { Logger } from '../logger.js';
import type { Counters } from '../metrics.js';

/**
 * Turns trusted notifications into sync requests, debounced per connector: the
 * first notification asks at once (a change reaches EchoMind in seconds), and
 * every notification that arrives within the next `windowMs` is folded into at
 * most one more request when the window closes. A burst of a thousand therefore
 * makes two requests, and the sync folds a request that arrives mid-pass into
 * one extra pass: at most two passes.
 */
export interface PushSignalsOptions {
  /** Asks for a sync of the connector (signal-with-start, `SyncTrigger = "push"`). */
  request: (connectorId: number) => Promise<void>;
  windowMs: number;
  logger: Logger;
  counters: Counters;
  /** Runs `fn` after `ms`; returns a cancel. Tests drive it by hand. */
  schedule?: (fn: () => void, ms: number) => () => void;
}

interface Window {
  /** Another notification came while this window was open. */
  dirty: boolean;
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
  private inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: PushSignalsOptions) {
    this.schedule = options.schedule ?? realSchedule;
  }

  notify(connectorId: number): void {
    if (this.stopped) return;
    const window = this.open.get(connectorId);
    if (window) {
      window.dirty = true;
      return;
    }
    const opened: Window = { dirty: false };
    this.open.set(connectorId, opened);
    const sent = this.send(connectorId).finally(() => {
      this.inFlight.delete(sent);
      if (this.stopped) return;
      opened.cancel = this.schedule(() => {
        this.open.delete(connectorId);
        if (opened.dirty) this.notify(connectorId);
      }, this.options.windowMs);
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
