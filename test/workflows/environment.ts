import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { defineSearchAttributeKey } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, inject } from 'vitest';
import type { WorkflowStartOptions } from '@temporalio/client';
import type { SyncActivities } from '../../activities/index.js';
import type { SyncConnectorInput } from '../../workflows/definitions.js';

/**
 * A Temporal dev server of the test file's own (the cached CLI, on a free
 * loopback port, in memory), and workers running the workflow bundle the test
 * run made once (test/support/workflow-bundle.ts). Temporal's
 * time-skipping test server is a separate download this machine cannot fetch,
 * and the workflow sleeps nowhere, so the dev server runs these tests as fast.
 */

export function temporalCliPath(): string {
  const path = process.env.TEMPORAL_CLI_PATH ?? `${homedir()}/.cache/echomind-connector/bin/temporal`;
  if (!existsSync(path)) throw new Error(`the Temporal CLI is not at ${path}: run "bash scripts/stack.sh up" once to build it, or set TEMPORAL_CLI_PATH`);
  return path;
}

let runtimeInstalled = false;

async function startWorkflowEnvironment(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // installed by another suite in this process
    }
  }
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      ip: '127.0.0.1',
      searchAttributes: [
        defineSearchAttributeKey('ConnectorId', 'INT'),
        defineSearchAttributeKey('ConnectorType', 'KEYWORD'),
        defineSearchAttributeKey('SyncTrigger', 'KEYWORD'),
      ],
    },
  });
}

/** The file's Temporal environment, started before its first test and torn down after its last; `bind` receives it once started. */
export function workflowSuite(bind: (env: TestWorkflowEnvironment) => void): void {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    env = await startWorkflowEnvironment();
    bind(env);
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

/** Runs `body` with a worker on a queue of its own serving `activities`, with the test run's workflow bundle. */
export async function withWorker<T>(env: TestWorkflowEnvironment, activities: SyncActivities, body: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `wf-test-${randomUUID().slice(0, 8)}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: inject('workflowBundlePath') }, activities });
  return worker.runUntil(body(taskQueue));
}
