import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { itemSegment, objectKeyFor, sanitizeFileName } from '../../src/storage/object-key.js';

const bytes = (s: string) => Buffer.byteLength(s);

describe('sanitizeFileName', () => {
  it('keeps an ordinary name as it is', () => {
    expect(sanitizeFileName('Quarterly report (final) v2.docx')).toBe('Quarterly report (final) v2.docx');
  });

  it.each([
    ['../../etc/passwd', '_.._etc_passwd'],
    ['/etc/passwd', '_etc_passwd'],
    ['..\\..\\windows\\system32', '_.._windows_system32'],
    ['a/b\\c.txt', 'a_b_c.txt'],
  ])('turns path separators in %j into underscores (%j)', (name, expected) => {
    const clean = sanitizeFileName(name);
    expect(clean).toBe(expected);
    expect(clean).not.toMatch(/[/\\]/);
  });

  it.each([
    ['nul\u0000byte.pdf', 'nulbyte.pdf'],
    ['line\nbreak.txt', 'linebreak.txt'],
    ['tab\tand\rreturn.txt', 'tabandreturn.txt'],
    ['del\u007fand\u0085c1.txt', 'delandc1.txt'],
  ])('strips control characters from %j', (name, expected) => {
    expect(sanitizeFileName(name)).toBe(expected);
  });

  it.each([
    ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
    ['mark\u200Fed\u2067name\u2069.txt', 'markedname.txt'],
    ['\u200E\u202Bleft\u202C.pdf', 'left.pdf'],
  ])('strips bidirectional controls from %j, so the key reads as what it is', (name, expected) => {
    expect(sanitizeFileName(name)).toBe(expected);
  });

  it.each(['', '.', '..', '...', ' . . ', '\u0000\n', '  '])('names %j "unnamed"', (name) => {
    expect(sanitizeFileName(name)).toBe('unnamed');
  });

  it('drops leading dots and surrounding spaces', () => {
    expect(sanitizeFileName('  ..hidden.txt  ')).toBe('hidden.txt');
  });

  it('normalises to NFC, so the same name typed two ways gives the same key', () => {
    const decomposed = 'Cafe\u0301.txt';
    expect(sanitizeFileName(decomposed)).toBe('Caf\u00e9.txt');
    expect(sanitizeFileName(decomposed)).toBe(sanitizeFileName('Caf\u00e9.txt'));
  });

  it('cuts a 1,000-character name to 200 bytes and keeps its extension', () => {
    const clean = sanitizeFileName(`${'a'.repeat(1000)}.pdf`);
    expect(bytes(clean)).toBe(200);
    expect(clean).toBe(`${'a'.repeat(196)}.pdf`);
  });

  it('does not mistake a long tail after the last dot for an extension', () => {
    const clean = sanitizeFileName(`report.${'x'.repeat(300)}`);
    expect(bytes(clean)).toBe(200);
    expect(clean.startsWith('report.')).toBe(true);
  });

  it.each([
    ['two-byte characters', 'é'.repeat(150), '.txt'],
    ['three-byte characters', '日本語'.repeat(50), '.xlsx'],
    ['emoji (surrogate pairs)', `a${'😀'.repeat(100)}`, '.txt'],
    ['emoji after an odd prefix', `ab${'😀'.repeat(100)}`, '.md'],
  ])('cuts a long name of %s on a character boundary', (_label, stem, ext) => {
    const clean = sanitizeFileName(stem + ext);
    expect(bytes(clean)).toBeLessThanOrEqual(200);
    expect(bytes(clean)).toBeGreaterThan(195);
    // Half a surrogate pair would not survive the trip through UTF-8 (it becomes U+FFFD).
    expect(Buffer.from(clean, 'utf8').toString('utf8')).toBe(clean);
    expect(clean.endsWith(ext)).toBe(true);
    expect(stem.startsWith(clean.slice(0, -ext.length))).toBe(true);
  });

  it('handles a very long name quickly', () => {
    const started = performance.now();
    const clean = sanitizeFileName(`${'x'.repeat(200_000)}.bin`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(bytes(clean)).toBe(200);
  });
});

describe('itemSegment', () => {
  it.each(['1AbC-dEf_123', '01ABCDEF2GHIJK', 'file.v2', 'x'.repeat(80)])('keeps the safe id %j readable', (id) => {
    expect(itemSegment(id)).toBe(id);
  });

  it.each([
    ['a OneDrive id with "!"', '01ABCDEF!123'],
    ['a slash', 'a/b'],
    ['a parent reference', '..'],
    ['".." inside', 'a..b'],
    ['a leading dot', '.hidden'],
    ['81 characters', 'x'.repeat(81)],
    ['a space', 'a b'],
    ['an empty id', ''],
  ])('hashes an id with %s into a stable 32-hex segment', (_label, id) => {
    const segment = itemSegment(id);
    expect(segment).toMatch(/^h-[0-9a-f]{32}$/);
    expect(segment).toBe(`h-${createHash('sha256').update(id).digest('hex').slice(0, 32)}`);
    expect(itemSegment(id)).toBe(segment);
  });

  it('gives different ids different segments', () => {
    expect(itemSegment('01ABC!1')).not.toBe(itemSegment('01ABC!2'));
    expect(itemSegment('x'.repeat(81))).not.toBe(itemSegment('x'.repeat(82)));
  });
});

describe('objectKeyFor', () => {
  const hostile: Array<[string, string]> = [
    ['01ABCDEF!123', 'report.pdf'],
    ['../../etc', '../../etc/passwd'],
    ['/root', '/absolute.txt'],
    ['..', '..'],
    ['a\\b', 'x\\..\\y.txt'],
    ['id', '\u0000\n'],
    ['x'.repeat(500), `${'y'.repeat(1000)}.docx`],
  ];

  it.each(hostile)('keeps source id %j and name %j inside the connector prefix', (sourceId, name) => {
    const key = objectKeyFor(7, sourceId, name);
    const segments = key.split('/');
    expect(key.startsWith('connectors/7/')).toBe(true);
    expect(segments).toHaveLength(4);
    expect(segments.some((s) => s === '..' || s === '.' || s === '')).toBe(false);
    expect(segments[3]).toBe(sanitizeFileName(name));
  });

  it('builds a readable key for a safe id and name', () => {
    expect(objectKeyFor(42, '1AbCdEf', 'notes.txt')).toBe('connectors/42/1AbCdEf/notes.txt');
  });

  it('moves the object when the file is renamed, not when it is edited', () => {
    expect(objectKeyFor(1, 'item', 'a.txt')).toBe(objectKeyFor(1, 'item', 'a.txt'));
    expect(objectKeyFor(1, 'item', 'b.txt')).not.toBe(objectKeyFor(1, 'item', 'a.txt'));
  });
});
