/**
 * Does the Temporal server we run dispatch by task priority? Starts `--low`
 * runs with priority key 5 (a backfill) on a task queue nobody polls, then one
 * with priority key 1 (an operator's request), and polls the queue's workflow
 * tasks by hand: a server that honours priority hands out the key-1 task first,
 * one that does not hands them out in arrival order (it comes last). It polls
 * only once the server counts the whole backlog (a start is accepted before its
 * first task reaches the queue), so what is left to chance is the partition: a
 * poll is served by one of the queue's partitions (4 by default), and each
 * orders only its own backlog.
 *
 *   npx tsx bench/priority-probe.ts                       # the stack's server (TEMPORAL_ADDRESS)
 *   npx tsx bench/priority-probe.ts --address 127.0.0.1:7999
 *   npx tsx bench/priority-probe.ts --task-queue echomind-connector   # a queue the server's dynamic config names
 *
 * Prints, and writes bench/results/priority-probe-<label>.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';

const { values: args } = parseArgs({
  options: {
    address: { type: 'string', default: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' },
    namespace: { type: 'string', default: 'default' },
    low: { type: 'string', default: '20' },
    label: { type: 'string', default: 'dev-server' },
    // Default: a queue of its own. Nobody may poll the one named (no worker running on it).
    'task-queue': { type: 'string' },
  },
});

const connection = await Connection.connect({ address: args.address });
const client = new Client({ connection, namespace: args.namespace });
const system = await client.workflowService.getSystemInfo({});
const probe = `priority-probe-${randomUUID().slice(0, 8)}`;
const taskQueue = args['task-queue'] ?? probe;
const low = Number(args.low);
const started: string[] = [];
const start = async (id: string, priorityKey: number) => {
  await client.workflow.start('priorityProbe', { taskQueue, workflowId: id, args: [], priority: { priorityKey }, workflowExecutionTimeout: '1 minute' });
  started.push(id);
};
for (let i = 0; i < low; i++) await start(`${probe}-backfill-${i}`, 5);
await start(`${probe}-operator`, 1);

// Nobody polled while they were started: all wait in the backlog once the server counts them.
const backlogCount = async (): Promise<number> => {
  const described = await client.workflowService.describeTaskQueue({ namespace: args.namespace, taskQueue: { name: taskQueue, kind: 1 }, taskQueueType: 1, reportStats: true });
  return Object.values(described.statsByPriorityKey ?? {}).reduce((n, stats) => n + Number(String(stats.approximateBacklogCount ?? 0)), 0);
};
const waitedFrom = Date.now();
let backlog = await backlogCount();
while (backlog < started.length && Date.now() - waitedFrom < 30_000) {
  await new Promise((r) => setTimeout(r, 200));
  backlog = await backlogCount();
}
// Now take them one by one.
const dispatched: string[] = [];
while (dispatched.length < started.length) {
  // A long poll needs a deadline (the server refuses one without).
  const task = await connection.withDeadline(Date.now() + 30_000, () =>
    client.workflowService.pollWorkflowTaskQueue({ namespace: args.namespace, taskQueue: { name: taskQueue, kind: 1 }, identity: 'priority-probe' }),
  );
  const id = task.workflowExecution?.workflowId;
  if (!id) break;
  dispatched.push(id);
}
for (const id of started) await client.workflow.getHandle(id).terminate('priority probe done').catch(() => undefined);

const operatorAt = dispatched.indexOf(`${probe}-operator`);
const result = {
  date: new Date().toISOString(),
  address: args.address,
  taskQueue,
  serverVersion: system.serverVersion ?? 'unknown',
  backlog: { backfillRuns: low, operatorRuns: 1, countedBeforePolling: backlog },
  operatorDispatchedAt: operatorAt + 1,
  honoursPriority: operatorAt === 0,
  order: dispatched.map((id) => id.slice(probe.length + 1)),
};
console.log(JSON.stringify(result, null, 2));
const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}priority-probe-${args.label}.json`, `${JSON.stringify(result, null, 2)}\n`);
await connection.close();
