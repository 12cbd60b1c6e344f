/**
 * Drive's `fields` partial-response masks ("nextPageToken,files(id,name)"):
 * the emulator returns only what was asked, as Drive does, so a source that
 * forgets a field it needs fails here as it would in production.
 */

export type FieldMask = Map<string, FieldMask | true>;

export function parseFields(mask: string): FieldMask {
  let at = 0;
  const parseList = (): FieldMask => {
    const result: FieldMask = new Map();
    while (at < mask.length) {
      let name = '';
      while (at < mask.length && !',()'.includes(mask[at] as string)) name += mask[at++];
      name = name.trim();
      if (mask[at] === '(') {
        at++;
        const inner = parseList();
        if (mask[at] !== ')') throw new Error(`unbalanced fields mask: ${mask}`);
        at++;
        if (name) result.set(name, inner);
      } else if (name) {
        // "a/b" is Drive's other nesting syntax.
        const [head, ...rest] = name.split('/');
        result.set(head as string, rest.length ? parseFields(rest.join('/')) : true);
      }
      if (mask[at] === ',') {
        at++;
        continue;
      }
      if (mask[at] === ')') return result;
    }
    return result;
  };
  const parsed = parseList();
  if (at < mask.length) throw new Error(`unbalanced fields mask: ${mask}`);
  return parsed;
}

export function applyFields(value: unknown, mask: FieldMask): unknown {
  if (mask.has('*')) return value;
  if (Array.isArray(value)) return value.map((v) => applyFields(v, mask));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of mask) {
    const field = (value as Record<string, unknown>)[key];
    if (field === undefined) continue;
    out[key] = sub === true ? field : applyFields(field, sub);
  }
  return out;
}
