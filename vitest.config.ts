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
// `npm test` (scripts/test.sh) starts a second stack and hands its settings over in TEST_LANE2_ENV
// (`export NAME=value` lines); these files then run on it, beside the others on the first stack.
// Each lane takes about half of the integration time (docs/stack.md lists the split).
const lane2 = [
  'test/integration/onedrive-sync.test.ts',
  'test/integration/teams-sync.test.ts',
  'test/integration/operator-controls.test.ts',
  'test/integration/web-ui.test.ts',
  'test/integration/stack.test.ts',
  'test/chaos/kills.test.ts',
  'test/chaos/replicas.test.ts',
  'test/chaos/hostile-data.test.ts',
];

function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1]) env[m[1]] = m[2] ?? '';
  }
  return env;
}

const lane2Env = process.env.TEST_LANE2_ENV ? parseExports(process.env.TEST_LANE2_ENV) : undefined;

const integration = (name: string, include: string[], exclude: string[], env: Record<string, string> = {}): TestProjectInlineConfiguration => ({
  extends: true,
  test: { name, include, exclude: [...unit, ...exclude, '**/node_modules/**'], fileParallelism: false, env },
});

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The unit files side by side, and one file per integration lane.
    maxWorkers: 4,
    // The workflow code, bundled once for the run (test/support/workflow-bundle.ts).
    globalSetup: ['test/support/workflow-bundle.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: unit, maxWorkers: 2 } },
      ...(lane2Env
        ? [integration('integration', ['test/**/*.test.ts'], lane2), integration('integration-2', lane2, [], lane2Env)]
        : [integration('integration', ['test/**/*.test.ts'], [])]),
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
