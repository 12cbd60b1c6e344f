import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

/**
 * Temporal's own server runs in two setups: docker-compose.yml's
 * production-temporal profile (as Docker Compose resolves it) and
 * `STACK_TEMPORAL=server bash scripts/stack.sh up`. Both must run the one
 * configuration in deploy/temporal/ (server config, dynamic config, setup
 * script) at the same pinned versions, so the profile CI tests is the one
 * operators deploy. Any drift between them fails here.
 */
const repo = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const cacheBin = join(process.env.ECHOMIND_CACHE ?? join(homedir(), '.cache', 'echomind-connector'), 'bin');
const composeBin = join(cacheBin, 'docker-compose-2.40.3');
const serverBin = join(cacheBin, 'temporal-server');
const read = (path: string) => readFileSync(join(repo, path), 'utf8');

interface ComposeService {
  image?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: Array<{ type: string; source: string; target: string; read_only?: boolean }>;
}

/** A version pinned at the top of scripts/lib/common.sh, e.g. v1.32.1. */
function pin(name: string): string {
  const m = new RegExp(`^${name}="\\$\\{${name}:-(v[^}]+)\\}"`, 'm').exec(read('scripts/lib/common.sh'));
  if (!m?.[1]) throw new Error(`${name} is not pinned in scripts/lib/common.sh`);
  return m[1];
}

/** Names of the environment variables a shell function prints as `"NAME=…"` lines. */
function exportedBy(fn: string): string[] {
  const body = new RegExp(`^${fn}\\(\\) \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(read('scripts/lib/temporal-server.sh'))?.[1] ?? '';
  return [...body.matchAll(/"([A-Z][A-Z0-9_]*)=/g)].map((m) => m[1] ?? '');
}

const template = read('deploy/temporal/config.yaml');
const templateVars = new Set([...template.matchAll(/env "([A-Z0-9_]+)"/g)].map((m) => m[1]));
const stackLib = read('scripts/lib/temporal-server.sh');
/** The PostgreSQL settings the server and setup.sh's `schema` both read. */
const postgresSettings = ['POSTGRES_SEEDS', 'DB_PORT', 'POSTGRES_USER', 'POSTGRES_PWD', 'DBNAME', 'VISIBILITY_DBNAME'];

let services: Record<string, ComposeService>;
/** Where compose mounts deploy/temporal/ in the Temporal containers. */
let mountOf: (service: string) => string | undefined;

beforeAll(async () => {
  if (!existsSync(composeBin)) await run('bash', ['scripts/deploy-tools.sh', 'install'], { cwd: repo, timeout: 300_000 });
  const { stdout } = await run(composeBin, ['--profile', 'production-temporal', 'config', '--format', 'json'], {
    cwd: repo,
    env: { PATH: process.env.PATH ?? '', HOME: homedir(), COMPOSE_PROFILES: '' },
  });
  services = (JSON.parse(stdout) as { services: Record<string, ComposeService> }).services;
  mountOf = (service) =>
    services[service]?.volumes?.find((v) => v.type === 'bind' && v.source === join(repo, 'deploy/temporal') && v.read_only)?.target;
});

describe('deploy/temporal: one Temporal server configuration for compose and stack.sh', () => {
  it('runs temporal-server on deploy/temporal/config.yaml and its dynamic config in both', () => {
    const dir = mountOf('temporal-server');
    expect(dir).toBeDefined();
    expect(services['temporal-server']?.environment).toMatchObject({
      TEMPORAL_SERVER_CONFIG_FILE_PATH: `${dir}/config.yaml`,
      DYNAMIC_CONFIG_FILE_PATH: `${dir}/dynamicconfig.yaml`,
    });
    // The image's own entrypoint (it only sets the bind address) starts the server.
    expect(services['temporal-server']?.entrypoint ?? null).toBeNull();
    expect(stackLib).toContain('TEMPORAL_DEPLOY_DIR="$REPO_ROOT/deploy/temporal"');
    expect(stackLib).toContain('"$TEMPORAL_SERVER_BIN" --config-file "$TEMPORAL_DEPLOY_DIR/config.yaml" start');
    expect(stackLib).toContain('"DYNAMIC_CONFIG_FILE_PATH=$TEMPORAL_DEPLOY_DIR/dynamicconfig.yaml"');
  });

  it('sets up schema, namespace and search attributes with deploy/temporal/setup.sh in both', () => {
    for (const [service, step] of [['temporal-schema', 'schema'], ['temporal-setup', 'namespace']] as const) {
      const dir = mountOf(service);
      expect(dir).toBeDefined();
      const s = services[service];
      expect([...(s?.entrypoint ?? []), ...(s?.command ?? [])]).toEqual(['sh', `${dir}/setup.sh`, step]);
      expect(stackLib).toContain(`temporal_setup ${step} ||`);
    }
    expect(stackLib).toContain('sh "$TEMPORAL_DEPLOY_DIR/setup.sh" "$1"');
  });

  it('pins the same server, SQL tool and Web UI versions in both', () => {
    const server = pin('TEMPORAL_SERVER_VERSION').slice(1);
    expect(services['temporal-server']?.image).toBe(`temporalio/server:${server}`);
    expect(services['temporal-schema']?.image).toBe(`temporalio/admin-tools:${server}`);
    expect(services['temporal-setup']?.image).toBe(`temporalio/admin-tools:${server}`);
    expect(services['temporal-ui']?.image).toBe(`temporalio/ui:${pin('TEMPORAL_UI_SERVER_VERSION').slice(1)}`);
  });

  it('hands the configuration the same PostgreSQL settings, and only settings it reads', () => {
    const composeServer = Object.keys(services['temporal-server']?.environment ?? {});
    const composeSchema = Object.keys(services['temporal-schema']?.environment ?? {});
    const stack = exportedBy('temporal_server_env');
    for (const name of postgresSettings) {
      expect(templateVars).toContain(name);
      expect(read('deploy/temporal/setup.sh')).toContain(`\${${name}`);
      expect(composeServer).toContain(name);
      expect(composeSchema).toContain(name);
      expect(stack).toContain(name);
    }
    // Read by the server binary itself, by setup.sh or by the Web UI server, not by the template.
    const outsideTemplate = new Set([
      'TEMPORAL_SERVER_CONFIG_FILE_PATH',
      'TEMPORAL_ALLOW_NO_AUTH',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_SQL_TOOL',
      'TEMPORAL_CLI',
      'TEMPORAL_UI_HOST',
      'TEMPORAL_UI_PORT',
    ]);
    const ignored = (names: string[]) => names.filter((n) => !outsideTemplate.has(n) && !templateVars.has(n));
    // A setting the template does not read would silently do nothing in one setup only.
    expect(ignored(composeServer)).toEqual([]);
    expect(ignored(stack)).toEqual([]);
  });

  it('keeps persistence and visibility on PostgreSQL with 4 history shards, not settable per setup', () => {
    expect(template).toMatch(/^ {2}numHistoryShards: 4$/m);
    expect(template.match(/^ {8}pluginName: postgres12$/gm)).toHaveLength(2);
    expect(template).toMatch(/^ {2}defaultStore: default\n {2}visibilityStore: visibility$/m);
    expect([...templateVars].filter((v) => /SHARD|PLUGIN|^DB$/.test(v ?? ''))).toEqual([]);
    // Task priority (the service sets it on every sync) and task-queue fairness.
    expect(read('deploy/temporal/dynamicconfig.yaml')).toMatch(/^matching\.useNewMatcher:\n {2}- value: true$/m);
    expect(read('deploy/temporal/dynamicconfig.yaml')).toMatch(/^matching\.enableFairness:\n {2}- value: true$/m);
    // One partition for the service's task queue (its default name), so its priorities order the whole backlog.
    const queue = loadConfig({}).temporal.taskQueue;
    for (const key of ['matching.numTaskqueueWritePartitions', 'matching.numTaskqueueReadPartitions']) {
      expect(read('deploy/temporal/dynamicconfig.yaml')).toContain(`${key}:\n  - value: 1\n    constraints:\n      taskQueueName: ${queue}\n`);
    }
  });

  // Built by `STACK_TEMPORAL=server bash scripts/stack.sh install` (CI builds it before `npm test`).
  it.runIf(existsSync(serverBin))('renders to the same server configuration in both, but for addresses, ports and credentials', async () => {
    const render = async (env: Record<string, string>) =>
      (await run(serverBin, ['--config', 'deploy/temporal', '--env', 'config', 'render-config'], { cwd: repo, env: { PATH: process.env.PATH ?? '', ...env } })).stdout.split('\n');
    const { stdout } = await run('bash', ['-c', 'source scripts/lib/common.sh && source scripts/lib/temporal.sh && source scripts/lib/temporal-server.sh && temporal_server_env'], {
      cwd: repo,
      env: { PATH: process.env.PATH ?? '', HOME: homedir(), STACK_DIR: mkdtempSync(join(tmpdir(), 'stack-env-')), TEMPORAL_PORT: '29233' },
    });
    const stackEnv = Object.fromEntries(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    // The image's entrypoint sets the bind and broadcast address to the container's IP.
    const composeEnv = { ...services['temporal-server']?.environment, BIND_ON_IP: '172.18.0.5', TEMPORAL_BROADCAST_ADDRESS: '172.18.0.5' };
    const [fromCompose, fromStack] = await Promise.all([render(composeEnv), render(stackEnv)]);
    const perSetup = new Set(['connectAddr', 'user', 'password', 'broadcastAddress', 'bindOnIP', 'grpcPort', 'httpPort', 'membershipPort', 'rpcAddress', 'httpAddress', 'filepath', 'listenAddress']);
    const key = (line: string) => line.trim().split(':')[0] ?? '';
    const differing = fromCompose.flatMap((line, i) => (line === fromStack[i] ? [] : [`${line.trim()} | ${fromStack[i]?.trim() ?? '(missing)'}`]));
    expect(fromStack.length).toBe(fromCompose.length);
    expect(differing.filter((d) => !perSetup.has(key(d)) || key(d) !== key(d.split(' | ')[1] ?? ''))).toEqual([]);
    expect(fromCompose.join('\n')).toMatch(/^ +numHistoryShards: 4$/m);
  });
});
