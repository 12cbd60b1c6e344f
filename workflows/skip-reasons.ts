/**
 * Why files were seen but not stored, as an operator reads it in
 * `status_message`: one phrase per kind of reason, the file types a reason
 * names gathered into it ("2 skipped: the ingestor does not accept OneNote or
 * Excel files"). Deterministic code only: bundled into the workflow.
 */

/** File kinds by MIME type, in the words a person uses for them. */
const KIND_BY_TYPE: Record<string, string> = {
  'application/msonenote': 'OneNote',
  'application/onenote': 'OneNote',
  'application/vnd.ms-excel': 'Excel',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'Excel',
  'application/vnd.ms-excel.sheet.macroenabled.12': 'Excel',
  'application/vnd.ms-powerpoint': 'PowerPoint',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'PowerPoint',
  'application/msword': 'Word',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'Word',
  'application/vnd.visio': 'Visio',
  'application/vnd.ms-visio.drawing': 'Visio',
  'application/zip': 'ZIP',
  'application/x-zip-compressed': 'ZIP',
  'application/octet-stream': 'untyped',
  'application/vnd.google-apps.document': 'Google Docs',
  'application/vnd.google-apps.spreadsheet': 'Google Sheets',
  'application/vnd.google-apps.presentation': 'Google Slides',
  'application/vnd.google-apps.drawing': 'Google Drawings',
  'application/vnd.google-apps.form': 'Google Forms',
  'application/vnd.google-apps.site': 'Google Sites',
  'application/vnd.google-apps.map': 'Google My Maps',
  'application/vnd.google-apps.jam': 'Jamboard',
  'application/vnd.google-apps.script': 'Apps Script',
};

const GENERAL_KINDS: Array<[string, string]> = [
  ['image/', 'image'],
  ['video/', 'video'],
  ['audio/', 'audio'],
];

/** "OneNote", "Excel", "image"; the MIME type itself when it has no common name. */
export function fileKind(contentType: string): string {
  const type = contentType.toLowerCase();
  return KIND_BY_TYPE[type] ?? GENERAL_KINDS.find(([prefix]) => type.startsWith(prefix))?.[1] ?? contentType;
}

/** A reason that names a file type: worded "<lead> <kind><tail> (<MIME type>)", grouped by its lead. */
interface TypedReason {
  lead: string;
  tail: string;
}

const NOT_INGESTIBLE: TypedReason = { lead: 'the ingestor does not accept', tail: ' files' };
const NO_EXPORT: TypedReason = { lead: 'no export configured for', tail: '' };
const TYPED_REASONS = [NOT_INGESTIBLE, NO_EXPORT];

const typedReason = ({ lead, tail }: TypedReason, contentType: string): string => `${lead} ${fileKind(contentType)}${tail} (${contentType})`;

/** The skip reason of a file whose type the ingestor refuses; the type stays in it for the progress query. */
export const notIngestibleReason = (contentType: string): string => typedReason(NOT_INGESTIBLE, contentType);

/** The skip reason of a Google-native file with no export format (a form, a site, or a type the connector's config leaves out). */
export const noExportReason = (contentType: string): string => typedReason(NO_EXPORT, contentType);

/** The reason's lead and the kind it names, when it is a typed reason. */
function readTypedReason(reason: string): { reason: TypedReason; kind: string } | undefined {
  for (const typed of TYPED_REASONS) {
    const head = `${typed.lead} `;
    const open = reason.lastIndexOf(' (');
    if (!reason.startsWith(head) || open < 0 || !reason.endsWith(')')) continue;
    const kindAndTail = reason.slice(head.length, open);
    if (!kindAndTail.endsWith(typed.tail)) continue;
    return { reason: typed, kind: kindAndTail.slice(0, kindAndTail.length - typed.tail.length) };
  }
  return undefined;
}

/** "OneNote or Excel", "Word, Excel or Visio". */
function either(kinds: string[]): string {
  if (kinds.length <= 1) return kinds.join('');
  return `${kinds.slice(0, -1).join(', ')} or ${kinds.at(-1) ?? ''}`;
}

/**
 * The skipped part of a summary: "2 skipped: the ingestor does not accept
 * OneNote or Excel files"; with several reasons, each with its count after
 * it, most frequent first, at most three named: "5 skipped: dangling shortcut
 * (3); the ingestor does not accept Excel files (2)".
 */
export function skippedSummary(skipped: number, reasons: Record<string, number>): string {
  const groups = new Map<string, { count: number; typed?: TypedReason; kinds: string[] }>();
  for (const [reason, count] of Object.entries(reasons)) {
    const typed = readTypedReason(reason);
    const key = typed ? typed.reason.lead : reason;
    const group = groups.get(key) ?? { count: 0, ...(typed ? { typed: typed.reason } : {}), kinds: [] };
    group.count += count;
    if (typed && !group.kinds.includes(typed.kind)) group.kinds.push(typed.kind);
    groups.set(key, group);
  }
  const phrases = [...groups.entries()]
    .sort((a, b) => b[1].count - a[1].count)
    .map(([key, { count, typed, kinds }]) => ({ count, phrase: typed ? `${typed.lead} ${either(kinds)}${typed.tail}` : key }));
  if (phrases.length === 0) return `${skipped} skipped`;
  if (phrases.length === 1) return `${skipped} skipped: ${phrases[0]?.phrase ?? ''}`;
  const named = phrases.slice(0, 3).map(({ count, phrase }) => `${phrase} (${count})`);
  const rest = phrases.slice(3).reduce((n, p) => n + p.count, 0);
  return `${skipped} skipped: ${named.join('; ')}${rest ? `; other reasons (${rest})` : ''}`;
}
