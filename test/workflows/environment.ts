import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { defineSearchAttributeKey } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll } from 'vitest';
import type { WorkflowStartOptions } from '@temporalio/client';
import type { SyncActivities } from '../../activities/index.js';
import type { SyncConnectorInput } from '../../workflows/definitions.js';
import { workflowsSourcePath } from '../support/integration.js';

/**
 * A Temporal dev server of the test's own (the cached CLI, on a free loopback
 * port, in memory) and the workflow bundle, built once per test file. Temporal's
 * time-skipping test server is a separate download this machine cannot fetch,
 * and the workflow sleeps nowhere, so the dev server runs these tests as fast.
 */

export function temporalCliPath(): string {
  const path = process.env.TEMPORAL_CLI_PATH ?? `${homedir()}/.cache/echomind-connector/bin/temporal`;
  if (!existsSync(path)) throw new Error(`the Temporal CLI is not at ${path}: run "bash scripts/stack.sh up" once to build it, or set TEMPORAL_CLI_PATH`);
  return path;
}

let runtimeInstalled = false;

export async function startWorkflowEnvironment(): Promise<{ env: TestWorkflowEnvironment; bundle: WorkflowBundleWithSourceMap }> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // installed by another suite in this process
    }
  }
  const [env, bundle] = await Promise.all([
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCliPath() },
        ip: '127.0.0.1',
        searchAttributes: [
          defineSearchAttributeKey('ConnectorId', 'INT'),
          defineSearchAttributeKey('ConnectorType', 'KEYWORD'),
          defineSearchAttributeKey('SyncTrigger', 'KEYWORD'),
        ],
      },
    }),
    bundleWorkflowCode({ workflowsPath: workflowsSourcePath, logger: new DefaultLogger('WARN') }),
  ]);
  return { env, bundle };
}

/**
 * The file's Temporal environment and workflow bundle, started before its first
 * test and torn down after its last; `bind` receives them once started.
 */
export function workflowSuite(bind: (suite: { env: TestWorkflowEnvironment; bundle: WorkflowBundleWithSourceMap }) => void): void {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    const started = await startWorkflowEnvironment();
    env = started.env;
    bind(started);
  });
  afterAll(async () => {
    await env?.teardown();
  });
}

/** Starts syncConnector for connector 7 on `taskQueue` under a workflow id of its own, one try per file unless `input` says otherwise. */
export function startSync(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  input: Partial<SyncConnectorInput> = {},
  options: Pick<WorkflowStartOptions, 'staticSummary' | 'staticDetails' | 'typedSearchAttributes'> = {},
) {
  return env.client.workflow.start('syncConnector', {
    taskQueue,
    workflowId: `connector-sync-test-${randomUUID().slice(0, 8)}`,
    args: [{ connectorId: 7, transferAttempts: 1, ...input }],
    ...options,
  });
}

/** Runs `body` with a worker on a queue of its own serving `activities`. */
export async function withWorker<T>(
  env: TestWorkflowEnvironment,
  bundle: WorkflowBundleWithSourceMap,
  activities: SyncActivities,
  body: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `wf-test-${randomUUID().slice(0, 8)}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
  return worker.runUntil(body(taskQueue));
}
