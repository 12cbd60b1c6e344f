import { FOLDER, SHORTCUT, type DriveStore, type StoredFile } from './store.js';

/** A stored file as Drive's v3 `File` resource (all fields; the mask trims it). */
export function renderFile(store: DriveStore, file: StoredFile, baseUrl: string): Record<string, unknown> {
  const native = file.exports !== undefined;
  const resource: Record<string, unknown> = {
    kind: 'drive#file',
    id: file.id,
    name: file.name,
    mimeType: file.mimeType,
    parents: file.parents,
    trashed: file.trashed,
    explicitlyTrashed: file.trashed,
    version: String(file.version),
    modifiedTime: file.modifiedTime,
    webViewLink: native
      ? `https://docs.google.com/document/d/${file.id}/edit?usp=drivesdk`
      : file.mimeType === FOLDER
        ? `https://drive.google.com/drive/folders/${file.id}`
        : `https://drive.google.com/file/d/${file.id}/view?usp=drivesdk`,
  };
  if (file.parents.length === 0) delete resource.parents;
  if (file.resourceKey) resource.resourceKey = file.resourceKey;
  // https://developers.google.com/workspace/drive/api/reference/rest/v3/files: capabilities.canDownload, downloadRestrictions.
  resource.capabilities = { canDownload: !file.downloadRestricted, canEdit: false };
  if (file.downloadRestricted) {
    const restriction = { restrictedForReaders: true, restrictedForWriters: false };
    resource.downloadRestrictions = { itemDownloadRestriction: restriction, effectiveDownloadRestrictionWithContext: restriction };
  }
  if (file.driveId) resource.driveId = file.driveId;
  if (file.content) {
    resource.size = String(file.content.length);
    resource.md5Checksum = store.md5(file);
  }
  if (file.exports) {
    resource.exportLinks = Object.fromEntries(
      [...file.exports.keys()].map((mime) => [mime, `${baseUrl}/feeds/download/export?id=${file.id}&mimeType=${encodeURIComponent(mime)}`]),
    );
  }
  if (file.mimeType === SHORTCUT && file.shortcutTargetId) {
    const target = store.files.get(file.shortcutTargetId);
    resource.shortcutDetails = {
      targetId: file.shortcutTargetId,
      ...(target ? { targetMimeType: target.mimeType } : {}),
      // "the resource key for the shortcut target is returned on shortcutDetails.targetResourceKey" (resource-keys guide).
      ...(target?.resourceKey ? { targetResourceKey: target.resourceKey } : {}),
    };
  }
  return resource;
}

/** Drive's default masks when a request names no `fields`. */
export const DEFAULT_FIELDS = {
  file: 'kind,id,name,mimeType',
  fileList: 'kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)',
  changeList: 'kind,nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,fileId,file(kind,id,name,mimeType))',
  driveList: 'kind,nextPageToken,drives(kind,id,name)',
  drive: 'kind,id,name',
};
