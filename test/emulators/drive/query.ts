import type { StoredFile } from './store.js';

/**
 * The subset of Drive's `q` language the emulator understands: clauses joined
 * by `and`: `'<id>' in parents`, `trashed = true|false`, `mimeType = '…'`,
 * `mimeType != '…'`, `name = '…'`. Anything else is a 400, as an unknown query is in Drive.
 */

export type FilePredicate = (file: StoredFile) => boolean;

const literal = String.raw`'((?:[^'\\]|\\.)*)'`;
const unescape = (value: string): string => value.replace(/\\(.)/g, '$1');

export function parseQuery(q: string): FilePredicate | null {
  if (q.trim() === '') return () => true;
  const predicates: FilePredicate[] = [];
  for (const clause of q.split(/\s+and\s+/i)) {
    const text = clause.trim();
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^${literal}\\s+in\\s+parents$`).exec(text))) {
      const id = unescape(m[1] ?? '');
      predicates.push((f) => f.parents.includes(id));
    } else if ((m = /^trashed\s*=\s*(true|false)$/.exec(text))) {
      const wanted = m[1] === 'true';
      predicates.push((f) => f.trashed === wanted);
    } else if ((m = new RegExp(`^(mimeType|name)\\s*(=|!=)\\s*${literal}$`).exec(text))) {
      const [, field, op, raw] = m;
      const value = unescape(raw ?? '');
      predicates.push((f) => (op === '=') === ((field === 'name' ? f.name : f.mimeType) === value));
    } else {
      return null;
    }
  }
  return (file) => predicates.every((p) => p(file));
}
