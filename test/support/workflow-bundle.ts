import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { bundleWorkflows } from '../../src/workflow-bundle.js';

/**
 * Global setup: the workflow code bundled once for the whole test run (webpack
 * takes seconds of CPU each time), as `npm run build` bundles it,
 * and handed to every test file as `inject('workflowBundlePath')`. The bundle is
 * kept under node_modules/.cache by the hash of the code it is made from, so a
 * later run with the same code reuses it.
 */
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    workflowBundlePath: string;
  }
}

/** Every TypeScript file the bundle can contain (workflow code imports from src/ and activities/ too), and the lock file. */
function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(repoRoot, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) hash.update(path).update(readFileSync(join(repoRoot, path)));
    }
  };
  for (const dir of ['workflows', 'src', 'activities']) walk(dir);
  hash.update(readFileSync(join(repoRoot, 'package-lock.json')));
  return hash.digest('hex').slice(0, 16);
}

async function sharedWorkflowBundle(): Promise<string> {
  const dir = join(repoRoot, 'node_modules', '.cache', 'echomind-connector');
  const path = join(dir, `workflow-bundle-${sourceHash()}.js`);
  if (existsSync(path)) return path;
  const code = await bundleWorkflows();
  mkdirSync(dir, { recursive: true });
  // Another project of the same run may be writing it too: whole files only.
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, code);
  renameSync(partial, path);
  return path;
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide('workflowBundlePath', await sharedWorkflowBundle());
}
