/**
 * Fixed facts of EchoMind's contract (its NATS subjects, MIME types the ingestor
 * accepts…) that more than one part of the service needs.
 */

export const SYNC_SUBJECTS = {
  teams: 'connector.sync.teams',
  onedrive: 'connector.sync.onedrive',
  google_drive: 'connector.sync.google_drive',
} as const;

export type SyncedConnectorType = keyof typeof SYNC_SUBJECTS;

export const DOCUMENT_PROCESS_SUBJECT = 'document.process';

/** `connectors.id` is a SMALLINT: a larger id can name no connector (and makes PostgreSQL refuse the query). */
export const MAX_CONNECTOR_ID = 32_767;

export const MIME = {
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  html: 'text/html',
  text: 'text/plain',
  markdown: 'text/markdown',
  json: 'application/json',
} as const;

/** MIME types the ingestor accepts; anything else is skipped with a counted reason. */
export const INGESTIBLE_MIME_TYPES: ReadonlySet<string> = new Set([
  MIME.pdf,
  MIME.docx,
  MIME.pptx,
  MIME.html,
  MIME.text,
  MIME.markdown,
  MIME.json,
  'image/bmp',
  'image/jpeg',
  'image/png',
  'image/tiff',
  'audio/mpeg',
  'audio/mp3',
  'audio/wav',
  'video/mp4',
  'video/avi',
  'video/x-msvideo',
  'video/x-matroska',
  'video/quicktime',
]);

const BY_EXTENSION: Record<string, string> = {
  pdf: MIME.pdf,
  docx: MIME.docx,
  pptx: MIME.pptx,
  html: MIME.html,
  htm: MIME.html,
  txt: MIME.text,
  md: MIME.markdown,
  markdown: MIME.markdown,
  json: MIME.json,
  bmp: 'image/bmp',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  avi: 'video/x-msvideo',
  mkv: 'video/x-matroska',
  mov: 'video/quicktime',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  xls: 'application/vnd.ms-excel',
  doc: 'application/msword',
  csv: 'text/csv',
  rtf: 'application/rtf',
};

/** The MIME type for a file name's extension, or undefined when unknown. */
export function mimeFromFileName(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  if (dot < 0) return undefined;
  return BY_EXTENSION[name.slice(dot + 1).toLowerCase()];
}

/**
 * The MIME type to record for stored bytes: the source's declared type unless it
 * is missing or generic, in which case the extension decides.
 */
export function resolveContentType(name: string, declared: string | undefined): string {
  const clean = declared?.split(';')[0]?.trim().toLowerCase();
  if (clean && clean !== 'application/octet-stream' && clean !== 'binary/octet-stream') return clean;
  return mimeFromFileName(name) ?? clean ?? 'application/octet-stream';
}

export function isIngestible(contentType: string): boolean {
  return INGESTIBLE_MIME_TYPES.has(contentType);
}
