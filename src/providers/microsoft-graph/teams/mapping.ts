import { MIME } from '../../../contract.js';
import type { SourceItem } from '../../types.js';
import type { ChannelInfo } from './channels.js';

/**
 * Source ids and SourceItems of Teams documents. Channel ids contain `:` (and
 * `@`), so every id part is percent-encoded and `:` only ever separates parts:
 *
 * - a thread:        `teams:{team}:{channel}:{rootId}`
 * - an inline image: `teams:{team}:{channel}:{rootId}:hosted:{messageId}:{hostedContentId}`
 * - a skipped item:  the thread's id plus `:{messageId}` or `:attachment:{id}`
 *
 * Files (channel files and shared attachments) keep their driveItem id, as the
 * OneDrive source does, so a file that is both is one document.
 */

const part = (value: string) => encodeURIComponent(value);

export function threadSourceId(teamId: string, channelId: string, rootId: string): string {
  return `teams:${part(teamId)}:${part(channelId)}:${part(rootId)}`;
}

export function hostedSourceId(threadId: string, messageId: string, hostedId: string): string {
  return `${threadId}:hosted:${part(messageId)}:${part(hostedId)}`;
}

/** How openContent re-reads a thread: ids and the heading it was rendered with. */
export interface ThreadRef {
  kind: 'thread';
  channelId: string;
  rootId: string;
  teamName: string;
  channelName: string;
  membershipType: string;
}

export interface HostedRef {
  kind: 'hosted';
  channelId: string;
  /** Path below the channel: `messages/{root}` or `messages/{root}/replies/{reply}`. */
  messagePath: string;
  hostedId: string;
}

export function threadItem(teamId: string, teamName: string, channel: ChannelInfo, root: { id: string; webUrl?: string | null }, title: string, digest: { sha256: string; bytes: number }): SourceItem {
  const fetch: ThreadRef = { kind: 'thread', channelId: channel.id, rootId: root.id, teamName, channelName: channel.name, membershipType: channel.membershipType };
  return {
    sourceId: threadSourceId(teamId, channel.id, root.id),
    name: `${title}.md`,
    signature: `md:${digest.sha256}`,
    contentType: MIME.markdown,
    size: digest.bytes,
    ...(root.webUrl ? { webUrl: root.webUrl } : {}),
    fetch: { ...fetch },
  };
}

const IMAGE_EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/bmp': 'bmp', 'image/tiff': 'tiff', 'image/gif': 'gif' };

export function hostedItem(threadId: string, title: string, ref: HostedRef & { messageId: string }, contentType: string, index: number, webUrl?: string | null): SourceItem {
  const extension = IMAGE_EXTENSIONS[contentType] ?? 'bin';
  const fetch: HostedRef = { kind: 'hosted', channelId: ref.channelId, messagePath: ref.messagePath, hostedId: ref.hostedId };
  return {
    sourceId: hostedSourceId(threadId, ref.messageId, ref.hostedId),
    name: `${title} image ${index}.${extension}`,
    // Hosted contents never change under the same id; a new image is a new id.
    signature: `hosted:${contentType}`,
    contentType,
    ...(webUrl ? { webUrl } : {}),
    fetch: { ...fetch },
  };
}
