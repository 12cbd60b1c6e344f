import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { defaultWorkflowsPath, workflowInterceptorsPath } from './worker.js';

const SOURCE_MAP_COMMENT = '//# sourceMappingURL=data:';

/**
 * The bundle as the worker keeps it, smaller. The worker holds the bundle's text twice, once in
 * its main thread and once in the workflow thread, and parses its inline source map in both.
 * - The source map loses `sourcesContent`, the original sources, which only a debugger or an
 *   enhanced stack trace with `showStackTraceSources` (off here) reads; the mappings stay, so
 *   stack traces still name the TypeScript file and line.
 * - Every character outside ASCII (a dash or an ellipsis in a comment or a message) becomes its
 *   `\uXXXX` escape. One such character makes V8 store the whole script as two bytes a character;
 *   the escape means the same in a string, a template, a regular expression or an identifier,
 *   and nothing in a comment.
 * Measured on the production bundle: 1,855 KiB to 960 KiB, held as one byte a character instead
 * of two; the worker's RSS after start fell by about 12 MiB (bench/README.md, "Worker memory:
 * what holds the RSS").
 */
export function compactWorkflowBundle(code: string): string {
  const at = code.lastIndexOf(SOURCE_MAP_COMMENT);
  const base64 = at < 0 ? -1 : code.indexOf('base64,', at);
  if (base64 < 0) throw new Error('the workflow bundle has no inline source map, which the Temporal worker requires');
  const map = JSON.parse(Buffer.from(code.slice(base64 + 'base64,'.length).trim(), 'base64').toString('utf8')) as Record<string, unknown>;
  delete map.sourcesContent;
  const body = code.slice(0, at).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `${body}${SOURCE_MAP_COMMENT}application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}

/** The workflow code and its interceptors bundled as the service runs them (`npm run build`, and the tests' shared bundle). */
export async function bundleWorkflows(): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: defaultWorkflowsPath(),
    workflowInterceptorModules: [workflowInterceptorsPath()],
    logger: new DefaultLogger('WARN'),
  });
  return compactWorkflowBundle(code);
}
