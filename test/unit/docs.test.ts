import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../../activities/index.js';
import { envSchema } from '../../src/config.js';
import * as controls from '../../workflows/controls.js';
import * as definitions from '../../workflows/definitions.js';

/**
 * The lists a reader takes from the README and docs/architecture.md are the
 * code's own: adding an activity, a signal, a query, an environment variable
 * or a test folder without writing it down fails here, and so does a figure
 * that does not name the benchmark result it comes from.
 */

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const readme = read('README.md');
const architecture = read('docs/architecture.md');

/** The `- **label**` bullet of a Markdown list, up to the next top-level bullet or heading. */
function bullet(markdown: string, label: string): string {
  const start = markdown.indexOf(`- **${label}**`);
  if (start < 0) throw new Error(`no "- **${label}**" bullet`);
  const rest = markdown.slice(start + 1);
  const end = rest.search(/\n(- |#)/);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The lines of a `## heading` section. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no "${heading}" section`);
  const rest = markdown.slice(start + heading.length + 2);
  const level = heading.split(' ')[0] ?? '##';
  const end = rest.search(new RegExp(`\\n#{1,${level.length}} `));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The terms a Markdown list defines: "- `planPage`: …", "- `pauseSync`, `resumeSync`: …". */
const definedTerms = (text: string): string[] =>
  [...text.matchAll(/^\s*- ((?:`\w+`(?:, )?)+):/gm)].flatMap((m) => [...(m[1] ?? '').matchAll(/`(\w+)`/g)].map((t) => t[1] ?? ''));

const sorted = (names: Iterable<string>): string[] => [...new Set(names)].sort();

// Factories only close over their deps: nothing is called until an activity runs.
const activityNames = Object.keys(createActivities({} as ActivityDeps));

interface Definition {
  type: string;
  name: string;
}
const isDefinition = (v: unknown): v is Definition =>
  typeof v === 'object' && v !== null && typeof (v as Definition).name === 'string' && ['signal', 'query', 'update'].includes((v as Definition).type);
const shared: unknown[] = [...Object.values(definitions), ...Object.values(controls)];
const signalNames = shared.filter(isDefinition).filter((d) => d.type === 'signal').map((d) => d.name);
const queryNames = shared.filter(isDefinition).filter((d) => d.type === 'query').map((d) => d.name);

describe('the README and docs/architecture.md match the code', () => {
  it('lists every activity createActivities builds, and no other', () => {
    expect(activityNames.length).toBeGreaterThan(0);
    expect(sorted(definedTerms(bullet(readme, 'Activities')))).toEqual(sorted(activityNames));
  });

  it('defines signals, queries and updates only in the shared definitions modules', () => {
    const elsewhere = readdirSync(new URL('workflows/', root))
      .filter((f) => f.endsWith('.ts') && f !== 'definitions.ts' && f !== 'controls.ts')
      .filter((f) => /\bdefine(Signal|Query|Update)\b/.test(read(`workflows/${f}`)));
    expect(elsewhere).toEqual([]);
    expect(shared.filter(isDefinition).filter((d) => d.type === 'update')).toEqual([]);
  });

  it('gives the temporal command of every signal, and names no signal the workflow lacks', () => {
    expect(signalNames.length).toBeGreaterThan(0);
    const commanded = [...readme.matchAll(/temporal workflow signal [^\n`]*--name (\w+)/g)].map((m) => m[1] ?? '');
    expect(sorted(commanded)).toEqual(sorted(signalNames));
  });

  it('gives the temporal command of every query, and names no query the workflow lacks', () => {
    expect(queryNames.length).toBeGreaterThan(0);
    const commanded = [...readme.matchAll(/temporal workflow query [^\n`]*--type (\w+)/g)].map((m) => m[1] ?? '');
    expect(sorted(commanded)).toEqual(sorted(queryNames));
  });

  it('docs/architecture.md names every signal and query', () => {
    // The list that follows the line starting "Signals" (or "Queries"), up to the next blank line.
    const list = (label: string) => new RegExp(`^${label}\\b[^\\n]*\\n([\\s\\S]*?)(?:\\n\\n|(?![\\s\\S]))`, 'm').exec(architecture)?.[1] ?? '';
    expect(sorted(definedTerms(list('Signals')))).toEqual(sorted(signalNames));
    expect(sorted(definedTerms(list('Queries')))).toEqual(sorted(queryNames));
  });

  it("documents every variable of src/config.ts's schema in the Configuration table, and no other", () => {
    const table = section(readme, '## Configuration')
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] ?? ''));
    expect(sorted(table)).toEqual(sorted(Object.keys(envSchema.shape)));
  });

  it('describes every folder under test/ in the layout, and no folder that is not there', () => {
    const folders = readdirSync(new URL('test/', root)).filter((f) => statSync(new URL(`test/${f}`, root)).isDirectory());
    const layout = section(readme, '## Layout');
    const described = [...layout.matchAll(/^\s+test\/([\w-]+)\//gm)].map((m) => m[1] ?? '');
    expect(sorted(described)).toEqual(sorted(folders));
  });
});

/**
 * Words that make a sentence a measurement of the service (a speed, a memory
 * peak, a start time, a ratio to the baseline) rather than a setting.
 */
const MEASURED =
  /\b(?:peak(?:ed|s|ing)?\b[^.]{0,40}\d+ ?(?:MiB|MB|GiB)|RSS|files\/s|MiB\/s|ready in|polled for work|history events? per|× the raw pipeline|ratios?\b[^.]*\d|\d+(?:\.\d+)? s to first poll)/;

/** Paragraphs (and list items) of a Markdown file, code blocks and tables left out. */
function paragraphs(markdown: string): string[] {
  return markdown
    .replace(/```[\s\S]*?```/g, '')
    .split(/\n\s*\n|\n(?=- )/)
    .filter((p) => !p.trimStart().startsWith('|'));
}

describe('figures in the README and docs name the benchmark result they come from', () => {
  const docs = ['README.md', ...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

  it.each(docs)('%s', (path) => {
    const unsourced: string[] = [];
    const missing: string[] = [];
    for (const paragraph of paragraphs(read(path))) {
      if (!MEASURED.test(paragraph) || !/\d/.test(paragraph)) continue;
      const cited = [...paragraph.matchAll(/bench\/results\/[\w./-]+?\.json/g)].map((m) => m[0]);
      if (cited.length === 0) unsourced.push(paragraph.trim().slice(0, 160));
      for (const file of cited) if (!existsSync(new URL(file, root))) missing.push(file);
    }
    expect(unsourced, 'a paragraph with a measured figure names no bench/results/*.json').toEqual([]);
    expect(missing, 'cited result files that do not exist').toEqual([]);
  });
});
