import { z } from 'zod';
import { SourceProtocolError } from '../../errors.js';

/**
 * The slice of Drive v3's `File` resource this source reads. Drive sends int64
 * values (size, version) as strings; we keep them as strings until mapping.
 */
export const driveFileSchema = z.object({
  id: z.string().min(1),
  name: z.string().default(''),
  mimeType: z.string().default('application/octet-stream'),
  parents: z.array(z.string()).optional(),
  driveId: z.string().optional(),
  modifiedTime: z.string().optional(),
  size: z.string().optional(),
  md5Checksum: z.string().optional(),
  version: z.string().optional(),
  trashed: z.boolean().optional(),
  shortcutDetails: z
    .object({ targetId: z.string().min(1), targetMimeType: z.string().optional(), targetResourceKey: z.string().optional() })
    .optional(),
  webViewLink: z.string().optional(),
  exportLinks: z.record(z.string(), z.string()).optional(),
  /** Link-shared items (Google's 2021 security update): sent back in `X-Goog-Drive-Resource-Keys`. */
  resourceKey: z.string().optional(),
  capabilities: z.object({ canDownload: z.boolean().optional() }).optional(),
  downloadRestrictions: z
    .object({
      effectiveDownloadRestrictionWithContext: z
        .object({ restrictedForReaders: z.boolean().optional(), restrictedForWriters: z.boolean().optional() })
        .optional(),
    })
    .optional(),
});

export type DriveFile = z.infer<typeof driveFileSchema>;

/** Every field the mapping needs; Drive returns only what `fields` names. */
export const FILE_FIELDS =
  'id,name,mimeType,parents,driveId,modifiedTime,size,md5Checksum,version,trashed,shortcutDetails,webViewLink,exportLinks,resourceKey,capabilities/canDownload,downloadRestrictions';

export const fileListSchema = z.object({
  nextPageToken: z.string().optional(),
  /** "some search results may be missing … when searching multiple drives with the allDrives corpora" (FileList). */
  incompleteSearch: z.boolean().optional(),
  files: z.array(driveFileSchema).default([]),
});

export const changeListSchema = z.object({
  nextPageToken: z.string().optional(),
  newStartPageToken: z.string().optional(),
  changes: z
    .array(
      z.object({
        /** `file`, or `drive` for a shared drive's own change (renamed, deleted, left): those carry no fileId. */
        changeType: z.string().optional(),
        fileId: z.string().optional(),
        driveId: z.string().optional(),
        removed: z.boolean().default(false),
        file: driveFileSchema.optional(),
      }),
    )
    .default([]),
});

export type DriveChange = z.infer<typeof changeListSchema>['changes'][number];

export const driveListSchema = z.object({
  nextPageToken: z.string().optional(),
  drives: z.array(z.object({ id: z.string().min(1), name: z.string().default('') })).default([]),
});

/** Parses an API answer, turning a shape Drive never promised into a SourceProtocolError. */
export function parseDriveAnswer<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SourceProtocolError(`Google Drive answered ${what} with an unexpected shape (${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'})`);
  }
  return parsed.data;
}
