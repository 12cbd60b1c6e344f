import { readdirSync } from 'node:fs';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

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
// `npm test` (scripts/test.sh) starts more stacks and hands their settings over in
// TEST_LANE_ENV_2, TEST_LANE_ENV_3, … (`export NAME=value` lines); the files are then dealt to the
// lanes, longest first, each to the lane with the least work so far, by the seconds each took
// alone on the shared 2-core machine (docs/stack.md). A file not listed counts as 30 s.
const secondsAlone: Record<string, number> = {
  'test/integration/onedrive-sync.test.ts': 247,
  'test/chaos/kills.test.ts': 192,
  'test/integration/teams-sync.test.ts': 164,
  'test/integration/google-drive-sync.test.ts': 121,
  'test/chaos/outages.test.ts': 92,
  'test/chaos/replicas.test.ts': 69,
  'test/integration/item-failures.test.ts': 60,
  'test/integration/operator-controls.test.ts': 52,
  'test/chaos/secrets.test.ts': 35,
  'test/chaos/hostile-data.test.ts': 28,
  'test/integration/built-service.test.ts': 26,
  'test/chaos/fuzz.test.ts': 22,
  'test/integration/web-ui.test.ts': 20,
  'test/chaos/source-faults.test.ts': 17,
  'test/integration/stack.test.ts': 14,
  'test/chaos/unreachable-source.test.ts': 12,
  'test/deploy/compose.test.ts': 2,
  'test/integration/database-restart.test.ts': 1,
};

const stackSuites = ['test/integration', 'test/chaos', 'test/deploy'].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `${dir}/${f}`),
);

function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1]) env[m[1]] = m[2] ?? '';
  }
  return env;
}

/** The lanes: the first on the stack in the environment, the others on the stacks scripts/test.sh started. */
const laneEnvs: Array<Record<string, string>> = [{}];
for (let k = 2; process.env[`TEST_LANE_ENV_${k}`]; k++) laneEnvs.push(parseExports(process.env[`TEST_LANE_ENV_${k}`] ?? ''));

const lanes = laneEnvs.map((env) => ({ env, files: [] as string[], seconds: 0 }));
for (const file of [...stackSuites].sort((a, b) => (secondsAlone[b] ?? 30) - (secondsAlone[a] ?? 30) || a.localeCompare(b))) {
  const lane = lanes.reduce((least, l) => (l.seconds < least.seconds ? l : least));
  lane.files.push(file);
  lane.seconds += secondsAlone[file] ?? 30;
}

const integration = lanes.map(
  ({ env, files }, i): TestProjectInlineConfiguration => ({
    extends: true,
    test: { name: i === 0 ? 'integration' : `integration-${i + 1}`, include: files, fileParallelism: false, env },
  }),
);

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The unit files two at a time beside one file per integration lane.
    maxWorkers: 2 + lanes.length,
    // The workflow code, bundled once for the run (test/support/workflow-bundle.ts).
    globalSetup: ['test/support/workflow-bundle.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: unit, maxWorkers: 2 } },
      ...integration,
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
