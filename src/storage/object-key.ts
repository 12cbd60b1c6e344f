import { createHash } from 'node:crypto';

/**
 * Object keys: `connectors/<connectorId>/<item>/<file name>`. Stable per
 * connector and source item (an update overwrites it; a rename moves it), and
 * ending in the file name because the ingestor takes the name from the last `/`.
 */

const MAX_NAME_BYTES = 200;

/** A file name safe as the last key segment: no separators, no control or bidirectional characters, no dot-only names. */
export function sanitizeFileName(name: string): string {
  let clean = name
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex -- control characters are exactly what we strip
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
    // Bidirectional controls make a name display as something else ("invoice\u202Efdp.exe" reads "invoiceexe.pdf").
    .replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/[/\\]/g, '_')
    .replace(/^[.\s]+/, '')
    .replace(/\s+$/, '')
    .trim();
  if (clean === '' || /^\.+$/.test(clean)) clean = 'unnamed';
  if (Buffer.byteLength(clean) > MAX_NAME_BYTES) {
    const dot = clean.lastIndexOf('.');
    const ext = dot > 0 && clean.length - dot <= 12 ? clean.slice(dot) : '';
    // Whole code points only: cutting a surrogate pair in half leaves a name that is not valid UTF-8.
    let budget = MAX_NAME_BYTES - Buffer.byteLength(ext);
    let stem = '';
    for (const char of clean.slice(0, clean.length - ext.length)) {
      budget -= Buffer.byteLength(char);
      if (budget < 0) break;
      stem += char;
    }
    clean = stem + ext;
  }
  return clean;
}

/** The source id as one key segment: readable when it is already safe, hashed otherwise. */
export function itemSegment(sourceId: string): string {
  if (/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}$/.test(sourceId) && !sourceId.includes('..')) return sourceId;
  return `h-${createHash('sha256').update(sourceId).digest('hex').slice(0, 32)}`;
}

export function objectKeyFor(connectorId: number, sourceId: string, fileName: string): string {
  return `connectors/${connectorId}/${itemSegment(sourceId)}/${sanitizeFileName(fileName)}`;
}
