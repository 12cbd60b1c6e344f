import { defineConfig } from 'vitest/config';

// Two projects. `unit` needs no server of ours (workflow tests start their own Temporal dev
// server from the cached CLI; activity tests use in-memory stores): `npm run test:unit`.
// `integration` talks to the real local stack (scripts/stack.sh up) and the source emulators.
const unit = ['test/unit/**/*.test.ts', 'test/workflows/**/*.test.ts', 'test/activities/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites share one PostgreSQL, NATS stream and Temporal server.
    fileParallelism: false,
    pool: 'forks',
    projects: [
      // Unit files share nothing (each workflow file starts its own dev server), so they run side by side.
      { extends: true, test: { name: 'unit', include: unit, fileParallelism: true } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: [...unit, '**/node_modules/**'] } },
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
