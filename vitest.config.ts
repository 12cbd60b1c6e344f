import { defineConfig } from 'vitest/config';

// `unit` needs no server of ours (workflow tests start their own Temporal dev server from the
// cached CLI; activity and provider tests use in-memory stores and the source emulators), so its
// files run side by side: `npm run test:unit`.
const unit = [
  'test/unit/**/*.test.ts',
  'test/workflows/**/*.test.ts',
  'test/activities/**/*.test.ts',
  'test/providers/**/*.test.ts',
  'test/emulators/**/*.test.ts',
];

// The integration suites talk to a real stack (scripts/stack.sh up). The files of one stack run one
// at a time: they share its tables, its JetStream stream and consumer, and its Temporal namespace.
// `npm test` (scripts/test.sh) starts more stacks and hands each lane's settings over in
// TEST_LANE_ENV_1, TEST_LANE_ENV_2, … (`export NAME=value` lines): the stack suites then run as many
// at a time as there are lanes, each file on a stack no other file is using at that moment
// (test/support/stack-lane.ts), the longest first (vitest's own order). Without lanes they run
// one at a time on the stack in the environment, after the unit files.
const laneCount = Object.keys(process.env).filter((k) => /^TEST_LANE_ENV_\d+$/.test(k)).length;
const stackSuites = ['test/integration/**/*.test.ts', 'test/chaos/**/*.test.ts', 'test/deploy/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: laneCount > 1 ? laneCount + 1 : 2,
    // The workflow code, bundled once for the run (test/support/workflow-bundle.ts).
    globalSetup: ['test/support/workflow-bundle.ts'],
    // Projects of one vitest group share its worker count: with lanes, unit files fill the workers
    // the stack suites leave free.
    projects:
      laneCount > 1
        ? [
            { extends: true, test: { name: 'unit', include: unit, maxWorkers: laneCount + 1 } },
            { extends: true, test: { name: 'integration', include: stackSuites, maxWorkers: laneCount + 1, setupFiles: ['test/support/stack-lane.ts'] } },
          ]
        : [
            { extends: true, test: { name: 'unit', include: unit, maxWorkers: 2 } },
            { extends: true, test: { name: 'integration', include: stackSuites, fileParallelism: false } },
          ],
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'activities/**/*.ts'],
      // Workflow code runs inside Temporal's isolated sandbox (a webpack bundle), where V8
      // coverage of the test process cannot see it; test/workflows runs it through a real
      // server, and the integration suites replay its recorded history. Entry points run as
      // child processes. The workflow interceptors run in that sandbox too; the bundle builder
      // runs as `npm run build`.
      exclude: ['src/gen/**', 'src/main.ts', 'src/db/migrate-cli.ts', 'src/build-workflow-bundle.ts', 'src/telemetry/workflow-interceptors.ts'],
      reporter: ['text-summary', 'json-summary', 'text'],
      thresholds: {
        'src/providers/**/*.ts': { lines: 80, statements: 80 },
        lines: 70,
        statements: 70,
      },
    },
  },
});
