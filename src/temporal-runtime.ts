import { Runtime, type LogLevel, type LogMetadata, type Logger as TemporalLogger } from '@temporalio/worker';
import { SYNC_DURATION_BUCKETS, SYNC_METRIC } from './telemetry/sync-metrics.js';
import { freeLoopbackPort } from './free-port.js';
import type { Logger } from './logger.js';

/** The Temporal SDK's logs (worker state, failed activities) as JSON lines through our logger. */
class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly logger: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const fields = { temporal: true, ...meta };
    switch (level) {
      case 'TRACE':
        return this.logger.trace(fields, message);
      case 'DEBUG':
        return this.logger.debug(fields, message);
      case 'INFO':
        return this.logger.info(fields, message);
      case 'WARN':
        return this.logger.warn(fields, message);
      case 'ERROR':
        return this.logger.error(fields, message);
    }
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

export interface TemporalRuntime {
  /** Where the runtime's Prometheus exporter answers (loopback only); /metrics appends it to ours. */
  metricsUrl: string;
}

/**
 * Installs the SDK runtime once per process: its logs go through ours; its
 * metrics (the SDK's own and the sync's, recorded through its metric meter) are
 * exported as Prometheus text on a loopback port that the health server's
 * /metrics serves together with the bridge's counters; and it does not catch
 * SIGTERM itself, because the entry point stops the bridge before the worker so
 * no new sync starts while transfers finish.
 */
export async function installTemporalRuntime(logger: Logger): Promise<TemporalRuntime> {
  // The exporter cannot report the port it got for 0, so it is given a free one.
  const bindAddress = `127.0.0.1:${await freeLoopbackPort()}`;
  Runtime.install({
    logger: new PinoTemporalLogger(logger.child({ component: 'temporal-sdk' })),
    shutdownSignals: [],
    telemetryOptions: {
      metrics: {
        prometheus: {
          bindAddress,
          countersTotalSuffix: true,
          useSecondsForDurations: true,
          histogramBucketOverrides: { [SYNC_METRIC.syncDuration]: SYNC_DURATION_BUCKETS },
        },
      },
    },
  });
  return { metricsUrl: `http://${bindAddress}/metrics` };
}
