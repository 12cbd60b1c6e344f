import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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
 * run made once (test/support/workflow-bundle.ts). Tests whose workflow waits
 * days (the push keeper's renewals) run on Temporal's time-skipping test server
 * instead (`timeSkippingSuite`): the Java one from Maven Central, which
 * scripts/test-server.sh installs, since the SDK's own download site is out of
 * reach here.
 */

export function temporalCliPath(): string {
  const path = process.env.TEMPORAL_CLI_PATH ?? `${homedir()}/.cache/echomind-connector/bin/temporal`;
  if (!existsSync(path)) throw new Error(`the Temporal CLI is not at ${path}: run "bash scripts/stack.sh up" once to build it, or set TEMPORAL_CLI_PATH`);
  return path;
}

/** The KEY=JSON dynamic config scripts/lib/temporal.sh gives the stack's dev server (task priority on), so these servers dispatch alike. */
function stackDevDynamicConfig(): string[] {
  const script = readFileSync(fileURLToPath(new URL('../../scripts/lib/temporal.sh', import.meta.url)), 'utf8');
  const m = /^TEMPORAL_DEV_DYNAMIC_CONFIG=\(([^)]*)\)/m.exec(script);
  if (!m?.[1]) throw new Error('scripts/lib/temporal.sh sets no TEMPORAL_DEV_DYNAMIC_CONFIG');
  return m[1].split(/\s+/).filter(Boolean);
}

let runtimeInstalled = false;

function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // installed by another suite in this process
  }
}

/** `dynamicConfig`: KEY=JSON values the file's server takes besides the stack's. */
async function startWorkflowEnvironment(dynamicConfig: string[]): Promise<TestWorkflowEnvironment> {
  installRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      ip: '127.0.0.1',
      searchAttributes: [
        defineSearchAttributeKey('ConnectorId', 'INT'),
        defineSearchAttributeKey('ConnectorType', 'KEYWORD'),
        defineSearchAttributeKey('SyncTrigger', 'KEYWORD'),
      ],
      extraArgs: [...stackDevDynamicConfig(), ...dynamicConfig].flatMap((value) => ['--dynamic-config-value', value]),
    },
  });
}

/**
 * The file's Temporal environment, started before its first test and torn down after its last; `bind` receives it once started.
 * `dynamicConfig`: KEY=JSON dynamic config of the file's server besides the stack's.
 */
export function workflowSuite(bind: (env: TestWorkflowEnvironment) => void, dynamicConfig: string[] = []): void {
  suiteOf(() => startWorkflowEnvironment(dynamicConfig), bind);
}

/**
 * The time-skipping test server's wrapper: `scripts/test-server.sh path` installs it when missing
 * (Maven, checksums checked) and answers at once when it is there.
 */
async function timeSkippingServerPath(): Promise<string> {
  const script = fileURLToPath(new URL('../../scripts/test-server.sh', import.meta.url));
  const { stdout } = await promisify(execFile)('bash', [script, 'path'], { timeout: 300_000 });
  return stdout.trim();
}

async function startTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  installRuntime();
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: await timeSkippingServerPath() } } });
}

/**
 * Like `workflowSuite`, on Temporal's time-skipping test server: while the test awaits a
 * workflow's result (or `env.sleep`), the server jumps to the next timer, so days of the
 * workflow's time pass in seconds. Workflow `Date.now()` is that skipped time.
 */
export function timeSkippingSuite(bind: (env: TestWorkflowEnvironment) => void): void {
  suiteOf(startTimeSkippingEnvironment, bind);
}

function suiteOf(start: () => Promise<TestWorkflowEnvironment>, bind: (env: TestWorkflowEnvironment) => void): void {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    env = await start();
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
