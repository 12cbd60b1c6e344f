import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { workerTuning } from '../temporal.config.js';

/** The workflow code, as TypeScript source in development and compiled JS in dist/. */
export function defaultWorkflowsPath(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts')
    ? fileURLToPath(new URL('../workflows/index.ts', import.meta.url))
    : fileURLToPath(new URL('../workflows/index.js', import.meta.url));
}

export interface SyncWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  workflowsPath?: string;
  tuning?: Partial<WorkerOptions>;
}

export async function createSyncWorker(options: SyncWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowsPath: options.workflowsPath ?? defaultWorkflowsPath(),
    activities: createActivities(options.deps),
    ...workerTuning,
    ...options.tuning,
  });
}
