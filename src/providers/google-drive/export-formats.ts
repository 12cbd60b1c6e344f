import { MIME } from '../../contract.js';

/** Google-native types (`application/vnd.google-apps.*`): no bytes of their own. */
export const GOOGLE_APPS = {
  folder: 'application/vnd.google-apps.folder',
  shortcut: 'application/vnd.google-apps.shortcut',
  document: 'application/vnd.google-apps.document',
  spreadsheet: 'application/vnd.google-apps.spreadsheet',
  presentation: 'application/vnd.google-apps.presentation',
  drawing: 'application/vnd.google-apps.drawing',
} as const;

export const GOOGLE_APPS_PREFIX = 'application/vnd.google-apps.';

/**
 * What each exportable native type may become: only formats Drive can export
 * AND the ingestor accepts (so no xlsx, csv or odt). The first is the default:
 * Docs → DOCX, Slides → PPTX, Sheets and Drawings → PDF.
 */
export const EXPORT_CHOICES: Readonly<Record<string, readonly string[]>> = {
  [GOOGLE_APPS.document]: [MIME.docx, MIME.pdf, MIME.text, MIME.markdown, MIME.html],
  [GOOGLE_APPS.presentation]: [MIME.pptx, MIME.pdf, MIME.text],
  [GOOGLE_APPS.spreadsheet]: [MIME.pdf],
  [GOOGLE_APPS.drawing]: [MIME.pdf, 'image/png', 'image/jpeg'],
};

/** Native MIME type → export MIME type, for one connector. */
export type ExportFormats = Readonly<Record<string, string>>;

export const DEFAULT_EXPORT_FORMATS: ExportFormats = Object.fromEntries(
  Object.entries(EXPORT_CHOICES).map(([native, choices]) => [native, choices[0] as string]),
);

const EXTENSIONS: Readonly<Record<string, string>> = {
  [MIME.docx]: 'docx',
  [MIME.pptx]: 'pptx',
  [MIME.pdf]: 'pdf',
  [MIME.text]: 'txt',
  [MIME.markdown]: 'md',
  [MIME.html]: 'html',
  'image/png': 'png',
  'image/jpeg': 'jpg',
};

/** Short names accepted in `export_formats` besides full MIME types. */
const ALIASES: Readonly<Record<string, string>> = {
  document: GOOGLE_APPS.document,
  docs: GOOGLE_APPS.document,
  spreadsheet: GOOGLE_APPS.spreadsheet,
  sheets: GOOGLE_APPS.spreadsheet,
  presentation: GOOGLE_APPS.presentation,
  slides: GOOGLE_APPS.presentation,
  drawing: GOOGLE_APPS.drawing,
  drawings: GOOGLE_APPS.drawing,
  ...Object.fromEntries(Object.entries(EXTENSIONS).map(([mime, ext]) => [ext, mime])),
  jpeg: 'image/jpeg',
};

export function canonicalMime(nameOrMime: string): string {
  const key = nameOrMime.trim().toLowerCase();
  return ALIASES[key] ?? key;
}

export function extensionFor(exportMime: string): string | undefined {
  return EXTENSIONS[exportMime];
}

/** "Plan" → "Plan.docx"; "Plan.docx" stays (a Doc named after an uploaded file often keeps its extension). */
export function withExtension(name: string, extension: string | undefined): string {
  if (!extension) return name;
  const base = name.trim() === '' ? 'Untitled' : name;
  return base.toLowerCase().endsWith(`.${extension}`) ? base : `${base}.${extension}`;
}

/**
 * Checks a connector's `export_formats` override and merges it over the defaults.
 * Returns an error text naming the bad entry (never its value) instead of
 * throwing, so the config schema reports it under the key `export_formats`.
 */
export function mergeExportFormats(raw: unknown): { ok: true; formats: ExportFormats } | { ok: false; error: string } {
  if (raw === undefined || raw === null) return { ok: true, formats: DEFAULT_EXPORT_FORMATS };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, error: 'must be an object mapping a Google type to an export type, e.g. {"application/vnd.google-apps.document": "application/pdf"}' };
  }
  const merged: Record<string, string> = { ...DEFAULT_EXPORT_FORMATS };
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const native = canonicalMime(key);
    const choices = EXPORT_CHOICES[native];
    if (!choices) {
      return { ok: false, error: `names "${key}", which is not an exportable Google type; use one of ${Object.keys(EXPORT_CHOICES).join(', ')}` };
    }
    const target = typeof value === 'string' ? canonicalMime(value) : undefined;
    if (!target || !choices.includes(target)) {
      return { ok: false, error: `maps "${key}" to a type EchoMind cannot ingest for it; use one of ${choices.join(', ')}` };
    }
    merged[native] = target;
  }
  return { ok: true, formats: merged };
}
