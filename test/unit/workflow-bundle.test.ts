import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, inject, it } from 'vitest';
import { compactWorkflowBundle } from '../../src/workflow-bundle.js';

const SOURCE_MAP = '//# sourceMappingURL=data:application/json;charset=utf-8;base64,';

function inlineMap(map: object): string {
  return `${SOURCE_MAP}${Buffer.from(JSON.stringify(map)).toString('base64')}`;
}

function mapOf(code: string): Record<string, unknown> {
  const at = code.lastIndexOf('base64,');
  return JSON.parse(Buffer.from(code.slice(at + 'base64,'.length).trim(), 'base64').toString('utf8')) as Record<string, unknown>;
}

describe('compactWorkflowBundle', () => {
  const map = { version: 3, file: 'workflow-bundle.js', sources: ['a.ts', 'b.ts'], names: ['x'], mappings: 'AAAA;AACA', sourcesContent: ['const a = 1;', 'const b = 2;'] };
  const code = [
    '// a dash — in a comment',
    'var plain = "… and ✓";',
    'var template = `${plain} →`;',
    'var pattern = /é+/.test("éé");',
    'var astral = "😀".length;',
    'globalThis.result = { plain, template, pattern, astral };',
    '',
  ].join('\n');

  it('escapes every character outside ASCII and means the same', () => {
    const compact = compactWorkflowBundle(`${code}${inlineMap(map)}\n`);
    expect(compact).not.toMatch(/[\u0080-\uffff]/);
    const run = (text: string) => {
      const sandbox: { result?: unknown } = {};
      runInNewContext(text, sandbox);
      return sandbox.result;
    };
    expect(run(compact)).toEqual(run(code));
    expect(run(compact)).toEqual({ plain: '… and ✓', template: '… and ✓ →', pattern: true, astral: 2 });
  });

  it('keeps the mappings and drops the original sources', () => {
    const compactMap = mapOf(compactWorkflowBundle(`${code}${inlineMap(map)}\n`));
    expect(compactMap).not.toHaveProperty('sourcesContent');
    expect(compactMap).toMatchObject({ version: 3, file: 'workflow-bundle.js', sources: ['a.ts', 'b.ts'], names: ['x'], mappings: 'AAAA;AACA' });
  });

  it('refuses a bundle without an inline source map, which the worker could not load', () => {
    expect(() => compactWorkflowBundle(code)).toThrow(/no inline source map/);
  });

  it('is what the tests run: the shared bundle is ASCII and maps to the workflow sources', () => {
    const bundle = readFileSync(inject('workflowBundlePath'), 'utf8');
    expect(bundle).not.toMatch(/[\u0080-\uffff]/);
    const bundleMap = mapOf(bundle);
    expect(bundleMap).not.toHaveProperty('sourcesContent');
    expect(bundleMap.sources).toEqual(expect.arrayContaining([expect.stringMatching(/workflows\/sync-connector\.ts$/)]));
  });
});
