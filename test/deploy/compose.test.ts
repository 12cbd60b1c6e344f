import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME_ENV, RUNTIME_NODE_FLAGS } from '../../src/runtime-settings.js';
import { SEARCH_ATTRIBUTES } from '../../src/telemetry/search-attributes.js';

/**
 * docker-compose.yml as Docker Compose itself resolves it (v2.40.3 from PyPI,
 * no engine needed for `config`), checked against what CI runs: the connector is
 * the Dockerfile's image with its CMD, publishes no host port (so it scales),
 * and both Temporal profiles register the search attributes the sync sets.
 */
const repo = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const composeBin = join(process.env.ECHOMIND_CACHE ?? join(homedir(), '.cache', 'echomind-connector'), 'bin', 'docker-compose-2.40.3');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  ports?: Array<{ host_ip?: string; published?: string; target: number }>;
  container_name?: string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string; required: boolean }>;
  networks?: Record<string, { aliases?: string[] } | null>;
}

async function resolved(profile: string): Promise<Record<string, ComposeService>> {
  const { stdout } = await run(composeBin, ['--profile', profile, 'config', '--format', 'json'], {
    cwd: repo,
    env: { PATH: process.env.PATH ?? '', HOME: homedir(), COMPOSE_PROFILES: '' },
  });
  return (JSON.parse(stdout) as { services: Record<string, ComposeService> }).services;
}

/** The Dockerfile's final CMD (JSON form). */
function dockerfileCmd(): string[] {
  const line = readFileSync(join(repo, 'Dockerfile'), 'utf8').split('\n').filter((l) => l.startsWith('CMD ')).pop();
  return JSON.parse(line?.slice(4) ?? '[]') as string[];
}

/** NAME=Type pairs scripts/stack.sh registers in the local Temporal dev server. */
function stackSearchAttributes(): string[] {
  const m = /^TEMPORAL_SEARCH_ATTRIBUTES=\(([^)]*)\)/m.exec(readFileSync(join(repo, 'scripts/lib/temporal.sh'), 'utf8'));
  return (m?.[1] ?? '').split(/\s+/).filter(Boolean);
}

/** KEY=JSON dynamic config scripts/stack.sh gives its dev server (task priority needs one on Server 1.29). */
function stackDevDynamicConfig(): string[] {
  const m = /^TEMPORAL_DEV_DYNAMIC_CONFIG=\(([^)]*)\)/m.exec(readFileSync(join(repo, 'scripts/lib/temporal.sh'), 'utf8'));
  return (m?.[1] ?? '').split(/\s+/).filter(Boolean);
}

/** NAME=Type pairs deploy/temporal/setup.sh registers in Temporal's own server (compose and stack.sh's server profile). */
function setupSearchAttributes(): string[] {
  const m = /^SEARCH_ATTRIBUTES="([^"]*)"/m.exec(readFileSync(join(repo, 'deploy/temporal/setup.sh'), 'utf8'));
  return (m?.[1] ?? '').split(/\s+/).filter(Boolean);
}

const expectedPairs = Object.entries(SEARCH_ATTRIBUTES).map(([name, type]) => `${name}=${type}`);

let dev: Record<string, ComposeService>;
let production: Record<string, ComposeService>;

beforeAll(async () => {
  if (!existsSync(composeBin)) await run('bash', ['scripts/deploy-tools.sh', 'install'], { cwd: repo, timeout: 300_000 });
  [dev, production] = await Promise.all([resolved('dev-temporal'), resolved('production-temporal')]);
});

describe('docker-compose.yml', () => {
  it('runs the Temporal dev server by default and Temporal on PostgreSQL under production-temporal', () => {
    expect(Object.keys(dev).sort()).toEqual(['connector', 'nats', 'postgres', 's3', 'temporal']);
    expect(Object.keys(production).sort()).toEqual(
      ['connector', 'nats', 'postgres', 's3', 'temporal-postgresql', 'temporal-schema', 'temporal-server', 'temporal-setup', 'temporal-ui'].sort(),
    );
    expect(production['temporal-server']?.image).toMatch(/^temporalio\/server:/);
    expect(production['temporal-schema']?.image).toMatch(/^temporalio\/admin-tools:/);
    // The server runs on the repository's configuration (test/deploy/temporal-config.test.ts).
    expect(production['temporal-server']?.environment?.TEMPORAL_SERVER_CONFIG_FILE_PATH).toBe('/etc/temporal/echomind/config.yaml');
    // Either way the connector reaches Temporal as temporal:7233.
    expect(production['temporal-server']?.networks?.default?.aliases).toContain('temporal');
  });

  it('builds the connector from the Dockerfile and runs its CMD (with --migrate for the empty local database)', () => {
    for (const services of [dev, production]) {
      const connector = services.connector;
      expect(connector?.build).toMatchObject({ context: repo.replace(/\/$/, ''), dockerfile: 'Dockerfile' });
      expect(connector?.command).toEqual([...dockerfileCmd(), '--migrate']);
      expect(connector?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    expect(dockerfileCmd()).toEqual(['node', ...RUNTIME_NODE_FLAGS, 'dist/src/main.js']);
    const start = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start;
    // npm start runs what the image runs, with the image's runtime settings (src/runtime-settings.ts).
    const runtimeEnv = Object.entries(RUNTIME_ENV).map(([name, value]) => `${name}=${value}`);
    expect(start).toBe([...runtimeEnv, ...dockerfileCmd()].join(' '));
    const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8');
    for (const setting of runtimeEnv) expect(dockerfile).toMatch(new RegExp(`^\\s+${setting.replace(/[$]/g, '\\$&')}(\\s|$)`, 'm'));
  });

  it('lets the connector scale: no host port, no container name', () => {
    expect(dev.connector?.ports ?? []).toEqual([]);
    expect(dev.connector?.container_name).toBeUndefined();
  });

  it('publishes every host port on 127.0.0.1 only', () => {
    for (const services of [dev, production]) {
      for (const [name, service] of Object.entries(services)) {
        for (const port of service.ports ?? []) expect(`${name}:${port.host_ip ?? 'all interfaces'}`).toBe(`${name}:127.0.0.1`);
      }
    }
  });

  it('registers the same search attributes as scripts/stack.sh in both Temporal profiles', () => {
    expect(stackSearchAttributes()).toEqual(expectedPairs);
    const devPairs = (dev.temporal?.command ?? []).filter((a) => a.startsWith('--search-attribute=')).map((a) => a.slice('--search-attribute='.length));
    expect(devPairs).toEqual(expectedPairs);
    const setup = production['temporal-setup'];
    expect([...(setup?.entrypoint ?? []), ...(setup?.command ?? [])]).toEqual(['sh', '/etc/temporal/echomind/setup.sh', 'namespace']);
    expect(setupSearchAttributes()).toEqual(expectedPairs);
  });

  it('runs the dev server with the dynamic config of scripts/stack.sh, task priority on', () => {
    expect(stackDevDynamicConfig()).toContain('matching.useNewMatcher=true');
    const devConfig = (dev.temporal?.command ?? []).filter((a) => a.startsWith('--dynamic-config-value=')).map((a) => a.slice('--dynamic-config-value='.length));
    expect(devConfig).toEqual(stackDevDynamicConfig());
  });
});
