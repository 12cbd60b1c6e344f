import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { workerTuning } from '../temporal.config.js';
import { syncActivityInterceptors } from './telemetry/activity-interceptors.js';

/** Running from dist/ (compiled JavaScript) rather than from TypeScript sources through tsx. */
const compiled = !fileURLToPath(import.meta.url).endsWith('.ts');
const ext = compiled ? 'js' : 'ts';

/** The workflow code, as TypeScript source in development and compiled JS in dist/. */
export function defaultWorkflowsPath(): string {
  return fileURLToPath(new URL(`../workflows/index.${ext}`, import.meta.url));
}

/** Workflow interceptors (sync metrics, connectorId on workflow log lines), bundled with the workflow code. */
export function workflowInterceptorsPath(): string {
  return fileURLToPath(new URL(`./telemetry/workflow-interceptors.${ext}`, import.meta.url));
}

/** Where `npm run build` writes the workflow bundle: dist/workflow-bundle.js. */
export function workflowBundlePath(): string {
  return compiled
    ? fileURLToPath(new URL('../workflow-bundle.js', import.meta.url))
    : fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));
}

export interface SyncWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Bundle these workflow sources at start (tests); otherwise the built bundle in production. */
  workflowsPath?: string;
  /** A workflow bundle made ahead of time elsewhere (the test run's shared bundle), instead of dist/'s. */
  workflowBundlePath?: string;
  tuning?: Partial<WorkerOptions>;
}

/**
 * The compiled service loads the bundle `npm run build` made ahead of time: no
 * webpack at start, and what runs is what was built. From TypeScript sources
 * (development, tests) the workflow code is bundled at start, as before.
 */
function workflowCode(options: SyncWorkerOptions): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'interceptors'> {
  const activityInterceptors = { activity: [syncActivityInterceptors] };
  const codePath = options.workflowBundlePath ?? (compiled && !options.workflowsPath ? workflowBundlePath() : undefined);
  if (codePath) {
    if (!existsSync(codePath)) {
      throw new Error(`the workflow bundle ${codePath} is missing: run \`npm run build\` (it compiles the service and bundles the workflow code)`);
    }
    return { workflowBundle: { codePath }, interceptors: activityInterceptors };
  }
  return {
    workflowsPath: options.workflowsPath ?? defaultWorkflowsPath(),
    interceptors: { ...activityInterceptors, workflowModules: [workflowInterceptorsPath()] },
  };
}

export async function createSyncWorker(options: SyncWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...workflowCode(options),
    activities: createActivities(options.deps),
    ...workerTuning,
    ...options.tuning,
  });
}
