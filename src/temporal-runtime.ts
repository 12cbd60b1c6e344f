import { Runtime, type LogLevel, type LogMetadata, type Logger as TemporalLogger } from '@temporalio/worker';
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

/**
 * Installs the SDK runtime once per process: its logs go through ours, and it
 * does not catch SIGTERM itself, because the entry point stops the bridge before
 * the worker so no new sync starts while transfers finish.
 */
export function installTemporalRuntime(logger: Logger): void {
  Runtime.install({ logger: new PinoTemporalLogger(logger.child({ component: 'temporal-sdk' })), shutdownSignals: [] });
}
