import { defineConfig } from 'vitest/config';

// One run covers unit and integration tests; integration tests talk to the real
// local stack (scripts/stack.sh up) and to the project's own source emulators.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites share one PostgreSQL, NATS stream and Temporal server.
    fileParallelism: false,
    pool: 'forks',
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'activities/**/*.ts'],
      // Workflow code runs inside Temporal's isolated sandbox (a webpack bundle), where V8
      // coverage of the test process cannot see it; the integration suites exercise it through
      // the real server and replay its recorded history. Entry points run as child processes.
      // The workflow interceptors run in that sandbox too; the bundle builder runs as `npm run build`.
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
