import { describe, expect, it } from 'vitest';
import { pgText } from '../../src/db/documents.js';

describe('pgText', () => {
  it('drops U+0000, which PostgreSQL text cannot hold, and keeps everything else', () => {
    expect(pgText('nul\u0000byte\u0000.txt')).toBe('nulbyte.txt');
    expect(pgText('ctrl\u0001 é 日本 \u202e')).toBe('ctrl\u0001 é 日本 \u202e');
    expect(pgText(null)).toBeNull();
  });
});
