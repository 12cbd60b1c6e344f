import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * docs/adding-a-source.md's table of files is the shape every source folder
 * has: a folder that lacks a file the table names (or the export it names for
 * that folder), or a source folder the table leaves out, fails here.
 */

const providers = new URL('../../src/providers/', import.meta.url);
const checklist = readFileSync(new URL('../../docs/adding-a-source.md', import.meta.url), 'utf8');

const cells = (row: string): string[] => row.split('|').slice(1, -1).map((c) => c.trim());
const unticked = (cell: string): string => /^`([^`]+)`$/.exec(cell)?.[1] ?? cell;

const rows = checklist.split('\n').filter((l) => l.startsWith('| '));
const header = cells(rows[0] ?? '');
/** The source folders, from the header's "Teams (`microsoft-graph/teams/`)". */
const folders = header.slice(2).map((h) => /\(`([^`]+)\/`\)/.exec(h)?.[1] ?? `(no folder in "${h}")`);
const files = rows.slice(2).map((row) => {
  const [file = '', , ...perSource] = cells(row);
  return { file: unticked(file), perSource: perSource.map(unticked) };
});

/** Folders under src/providers holding a provider.ts: the sources this build has. */
function sourceFolders(dir = '', found: string[] = []): string[] {
  for (const entry of readdirSync(new URL(dir || '.', providers), { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const path = `${dir}${entry.name}/`;
    if (existsSync(new URL(`${path}provider.ts`, providers))) found.push(path.slice(0, -1));
    sourceFolders(path, found);
  }
  return found;
}

const exports = (source: string, name: string): boolean =>
  new RegExp(`^export (?:async )?(?:function\\*?|const|let|class|interface|type|enum) ${name}\\b`, 'm').test(source) ||
  new RegExp(`^export (?:type )?\\{[^}]*\\b${name}\\b[^}]*\\}`, 'm').test(source);

describe("docs/adding-a-source.md's table of files", () => {
  it('has a column for every source folder, and each column names a folder', () => {
    expect(header.slice(0, 2)).toEqual(['file', 'job']);
    expect(files.length).toBeGreaterThanOrEqual(10);
    expect([...folders].sort()).toEqual(sourceFolders().sort());
  });

  const cases = files.flatMap(({ file, perSource }) => folders.map((folder, i) => ({ folder, file, cell: perSource[i] ?? '' })));

  it.each(cases)('$folder/$file: $cell', ({ folder, file, cell }) => {
    expect(cell, 'every source names the export, or the shared file that does the job').not.toBe('');
    if (/\.\w+$/.test(cell)) {
      // A documented exception: the job lives in that (shared) file.
      expect(existsSync(new URL(`${folder}/${cell}`, providers)), `${folder}/${cell} exists`).toBe(true);
      return;
    }
    const path = new URL(`${folder}/${file}`, providers);
    expect(existsSync(path), `src/providers/${folder}/${file} exists`).toBe(true);
    expect(exports(readFileSync(path, 'utf8'), cell), `src/providers/${folder}/${file} exports ${cell}`).toBe(true);
  });

  it('names provider factories that src/providers/registry.ts registers', () => {
    const registry = readFileSync(new URL('registry.ts', providers), 'utf8');
    const factories = files.find((f) => f.file === 'provider.ts')?.perSource ?? [];
    expect(factories.length).toBe(folders.length);
    for (const factory of factories) expect(registry).toMatch(new RegExp(`\\b${factory}\\(`));
  });
});
