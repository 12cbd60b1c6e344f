import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { workflowBundlePath } from './worker.js';
import { bundleWorkflows } from './workflow-bundle.js';

/**
 * The second half of `npm run build` (after `tsc`): bundles the compiled workflow
 * code and its interceptors once, into dist/workflow-bundle.js, which the
 * compiled worker loads instead of running webpack at every start.
 */
async function main(): Promise<void> {
  const started = Date.now();
  const code = await bundleWorkflows();
  const target = workflowBundlePath();
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, code);
  console.log(`workflow bundle: ${target} (${(code.length / 1024).toFixed(0)} KiB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((e: unknown) => {
  console.error(`could not bundle the workflow code: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
