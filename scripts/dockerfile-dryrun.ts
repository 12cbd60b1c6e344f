/**
 * Runs the Dockerfile's build steps without a Docker engine (CI has none): each
 * stage is a plain directory standing for its WORKDIR, COPY copies from the
 * checkout (or `--from` an earlier stage), RUN runs in bash there with the
 * stage's ENV, and Node 24 (the image's) is first on PATH. Writes
 * <out>/image.json with the final stage's directory, USER, ENV, CMD and
 * HEALTHCHECK, which the end-to-end suite then runs against the real stack.
 *
 *   npx tsx scripts/dockerfile-dryrun.ts [out-dir]     (default: .image)
 *
 * Only the instructions this project's Dockerfile uses are understood; any
 * other one stops the run, so the dry run never silently skips a step.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const out = resolve(process.argv[2] ?? join(repo, '.image'));

interface Stage {
  name: string;
  dir: string;
  workdir: string;
  env: Record<string, string>;
}

/** Instructions, one per entry, continuation lines joined and comments dropped. */
function instructions(text: string): Array<{ op: string; args: string }> {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op = ''] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: l.slice(op.length).trim() };
    });
}

/** `k=v k2="v 2"` pairs of ENV. */
function envPairs(args: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) pairs[m[1] as string] = m[3] ?? (m[2] as string);
  return pairs;
}

/** A path inside a stage's filesystem, relative to its WORKDIR, as a host path. */
function hostPath(stage: Stage, containerPath: string): string {
  if (containerPath.startsWith('/')) {
    if (containerPath !== stage.workdir && !containerPath.startsWith(`${stage.workdir}/`)) {
      throw new Error(`${containerPath} is outside the WORKDIR ${stage.workdir}; the dry run maps only the WORKDIR`);
    }
    return join(stage.dir, containerPath.slice(stage.workdir.length));
  }
  return join(stage.dir, containerPath);
}

function main(): void {
  rmSync(out, { recursive: true, force: true });
  const bin = join(out, 'bin');
  mkdirSync(bin, { recursive: true });
  // The image's node (24): the project's own `node` package, not whatever the host has; a copy,
  // so the image's unprivileged USER can run it wherever the checkout lives.
  copyFileSync(realpathSync(join(repo, 'node_modules', '.bin', 'node')), join(bin, 'node'));
  chmodSync(join(bin, 'node'), 0o755);
  chmodSync(out, 0o755);

  const stages: Stage[] = [];
  let stage: Stage | undefined;
  const image: { user?: string; expose?: string; cmd?: string[]; healthcheck?: { options: string; test: string[] } } = {};
  for (const { op, args } of instructions(readFileSync(join(repo, 'Dockerfile'), 'utf8'))) {
    if (op === 'FROM') {
      const name = /\sAS\s+(\S+)$/i.exec(args)?.[1] ?? `stage${stages.length}`;
      stage = { name, dir: join(out, name), workdir: '/', env: {} };
      mkdirSync(stage.dir, { recursive: true });
      stages.push(stage);
      console.log(`\n== stage ${name} (${args})`);
      continue;
    }
    if (!stage) throw new Error(`${op} before FROM`);
    const current = stage;
    switch (op) {
      case 'WORKDIR':
        current.workdir = args;
        break;
      case 'ENV':
        Object.assign(current.env, envPairs(args));
        break;
      case 'COPY': {
        const words = args.split(/\s+/);
        const from = words[0]?.startsWith('--from=') ? words.shift()?.slice('--from='.length) : undefined;
        const dest = words.pop() as string;
        const source = from ? stages.find((s) => s.name === from) : undefined;
        if (from && !source) throw new Error(`COPY --from=${from}: no such stage`);
        for (const src of words) {
          const what = source ? hostPath(source, src) : join(repo, src);
          const target = dest.endsWith('/') ? join(hostPath(current, dest), src.split('/').pop() as string) : hostPath(current, dest);
          console.log(`COPY ${from ? `${from}:` : ''}${src} -> ${dest}`);
          cpSync(what, target, { recursive: true });
        }
        break;
      }
      case 'RUN': {
        // A BuildKit cache mount (`--mount=type=cache,…`) only speeds the build up: the host's npm cache stands in.
        const command = args.replace(/^(--mount=type=cache,\S+\s+)+/, '');
        if (command.startsWith('--')) throw new Error(`the dry run does not understand RUN ${command.split(' ')[0] ?? ''}`);
        console.log(`RUN ${command}`);
        execFileSync('bash', ['-euo', 'pipefail', '-c', command], {
          cwd: hostPath(current, current.workdir),
          stdio: 'inherit',
          env: { ...process.env, ...current.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
        });
        break;
      }
      case 'USER':
        image.user = args;
        break;
      case 'EXPOSE':
        image.expose = args;
        break;
      case 'CMD':
        image.cmd = JSON.parse(args) as string[];
        break;
      case 'HEALTHCHECK': {
        const at = args.indexOf('CMD ');
        image.healthcheck = { options: args.slice(0, at).trim(), test: JSON.parse(args.slice(at + 4)) as string[] };
        break;
      }
      default:
        throw new Error(`the dry run does not understand ${op}; teach scripts/dockerfile-dryrun.ts or change the Dockerfile`);
    }
  }
  if (!stage || !image.cmd) throw new Error('the Dockerfile has no final stage with a CMD');
  const result = { dir: stage.dir, env: stage.env, nodeBin: join(bin, 'node'), ...image };
  writeFileSync(join(out, 'image.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nimage: ${stage.dir} (CMD ${image.cmd.join(' ')}, USER ${image.user ?? 'root'})`);
}

main();
