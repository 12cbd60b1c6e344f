import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startService } from './service.js';
import { installTemporalRuntime } from './temporal-runtime.js';

/**
 * Entry point: parses the environment once, starts the bridge and/or the
 * worker (CONNECTOR_ROLE=all|bridge|worker), and shuts down cleanly on SIGTERM.
 * `--migrate` applies the local schema first (development; never in EchoMind's production).
 * `--workflow-bundle=PATH` runs a workflow bundle made ahead of time instead of
 * bundling the TypeScript sources at start (tests: one bundle for a whole run).
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`echomind-connector: invalid configuration:\n${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const args = new Set(process.argv.slice(2));
  const workflowBundlePath = [...args].find((a) => a.startsWith('--workflow-bundle='))?.slice('--workflow-bundle='.length);
  if (args.has('--bridge-only')) config.role = 'bridge';
  if (args.has('--worker-only')) config.role = 'worker';
  const logger = createLogger(config.logLevel);
  const runtime = await installTemporalRuntime(logger);
  const service = await startService(config, logger, {
    migrate: args.has('--migrate'),
    runtimeMetricsUrl: runtime.metricsUrl,
    ...(workflowBundlePath ? { workflowBundlePath } : {}),
  });
  logger.info({ role: config.role, taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace }, 'echomind-connector started');

  let signals = 0;
  const shutdown = (signal: string) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down: in-flight transfers get the grace period to finish');
    // What the logger still buffers goes out before the process ends.
    void service.stop().then(() => logger.flush(() => process.exit(0)));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await service.workerDone?.catch((e: unknown) => {
    logger.fatal({ error: String(e) }, 'worker stopped with an error');
    process.exit(1);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`echomind-connector: failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  if (e instanceof Error && e.cause instanceof Error) process.stderr.write(`  cause: ${e.cause.message}\n`);
  process.exit(1);
});
