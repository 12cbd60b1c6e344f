import { randomBytes } from 'node:crypto';
import type { GraphStore, StoredItem } from './store.js';

/**
 * The emulator's Teams: teams, channels (standard, private, shared), threads
 * (a root message and its replies), hosted contents (inline images) and the
 * channel files folders, which live in the drives of the GraphStore as on
 * SharePoint. Every change stamps a sequence number on the message and on its
 * thread ("reply chain"), from which messages/delta answers.
 */

export type MembershipType = 'standard' | 'private' | 'shared';
export type MessageType = 'message' | 'systemEventMessage' | 'chatEvent';

export interface StoredAttachment {
  id: string;
  contentType: string;
  contentUrl?: string | null;
  name?: string | null;
  content?: string | null;
}

export interface StoredMention {
  id: number;
  mentionText: string;
  userId: string;
}

export interface StoredHostedContent {
  id: string;
  bytes: Buffer;
  contentType: string;
}

export interface StoredMessage {
  id: string;
  replyToId: string | null;
  author: { id: string; displayName: string } | null;
  bodyType: 'html' | 'text';
  body: string;
  subject: string | null;
  messageType: MessageType;
  created: number;
  lastModified: number;
  lastEdited: number | null;
  deleted: number | null;
  attachments: StoredAttachment[];
  mentions: StoredMention[];
  hosted: Map<string, StoredHostedContent>;
  /** Sequence of the last change to this message. */
  seq: number;
}

export interface StoredThread {
  root: StoredMessage;
  /** Oldest first (Graph answers newest first). */
  replies: StoredMessage[];
  /** Sequence and time of the last change anywhere in the reply chain. */
  chainSeq: number;
  chainModified: number;
}

export interface StoredChannel {
  id: string;
  teamId: string;
  displayName: string;
  membershipType: MembershipType;
  deleted: boolean;
  /** The channel's files folder; absent until the emulator is asked to provision it. */
  filesFolder?: { driveId: string; itemId: string };
  threads: Map<string, StoredThread>;
  /** Delta tokens issued before this generation are expired. */
  tokenGeneration: number;
  /** How an expired token is refused: 410 `resyncRequired` or 400 `syncStateNotFound`. */
  expiredAnswer: 410 | 400;
  /** How Graph refuses this app the channel's messages (403), if it does: see TeamsRoutes. */
  denies?: TeamsRefusal;
  /** Graph answers 400 to a `$filter` on this channel's delta (reported, app-only sign-in among them). */
  refusesFilter?: boolean;
  /** While the channel has no message, a delta round answers an empty page with a nextLink that then answers 400 (reported). */
  emptyDeltaRefused?: boolean;
  /** What `filesFolder` answers while the channel's SharePoint site is not provisioned (private and shared channels). */
  filesFolderAnswer?: 403 | 404 | 500;
}

/** Teams' own 403s: a plain refusal, the unspecific one, and the protected-API refusal for app-only sign-in. */
export type TeamsRefusal = 'Forbidden' | 'UnknownError' | 'protectedApi';

export interface StoredTeam {
  id: string;
  displayName: string;
  driveId: string;
  channels: Map<string, StoredChannel>;
}

export interface MessageInput {
  /** HTML body (or text with `bodyType: 'text'`). */
  html?: string;
  bodyType?: 'html' | 'text';
  author?: { id: string; displayName: string } | null;
  subject?: string | null;
  messageType?: MessageType;
  /** When it was posted (default: now). */
  at?: Date;
  attachments?: StoredAttachment[];
  mentions?: StoredMention[];
  hosted?: Array<{ id?: string; bytes: Buffer | string; contentType: string }>;
}

export const DEFAULT_AUTHOR = { id: 'user-alice', displayName: 'Alice Example' };

/** Ids stay unique across resets, as item ids do. */
let nextNumber = 1;
const nextId = () => nextNumber++;

export class TeamsStore {
  readonly teams = new Map<string, StoredTeam>();
  /** `contentUrl` of a shared file → its driveItem id (what the shares API resolves). */
  readonly shared = new Map<string, string>();
  /** Told of every message created, changed or deleted (the push emulator listens: push.ts). */
  onMessage: ((channel: StoredChannel, message: StoredMessage, change: 'created' | 'updated' | 'deleted') => void) | undefined;
  private seq = 0;
  private lastTime = 0;

  constructor(
    private readonly drives: GraphStore,
    private readonly graphBaseUrl: string,
  ) {}

  get currentSeq(): number {
    return this.seq;
  }

  /** Now, strictly later than any earlier stamp. */
  now(): number {
    this.lastTime = Math.max(Date.now(), this.lastTime + 1);
    return this.lastTime;
  }

  addTeam(displayName: string, options: { id?: string } = {}): StoredTeam {
    const id = options.id ?? `team-${nextId()}-${randomBytes(3).toString('hex')}`;
    const drive = this.drives.createDrive({ driveType: 'documentLibrary', siteId: `contoso.example,site-${id},web-1` });
    const team: StoredTeam = { id, displayName, driveId: drive.id, channels: new Map() };
    this.teams.set(id, team);
    return team;
  }

  /**
   * A channel. Standard channels keep their files in a folder of the team's
   * library; private and shared channels get a site (a drive) of their own.
   */
  addChannel(teamId: string, displayName: string, options: { membershipType?: MembershipType; id?: string; withoutFilesFolder?: boolean } = {}): StoredChannel {
    const team = this.team(teamId);
    const id = options.id ?? `19:${randomBytes(12).toString('hex')}-${nextId()}@thread.tacv2`;
    const membershipType = options.membershipType ?? 'standard';
    const channel: StoredChannel = { id, teamId, displayName, membershipType, deleted: false, threads: new Map(), tokenGeneration: 0, expiredAnswer: 410 };
    if (!options.withoutFilesFolder) {
      const driveId = membershipType === 'standard' ? team.driveId : this.drives.createDrive({ driveType: 'documentLibrary' }).id;
      const root = this.drives.items.get(this.drives.drives.get(driveId)?.rootId ?? '');
      if (!root) throw new Error('the channel drive has no root');
      const folder = this.drives.addFolder(root.id, displayName, { driveId });
      channel.filesFolder = { driveId, itemId: folder.id };
    }
    team.channels.set(id, channel);
    return channel;
  }

  deleteChannel(teamId: string, channelId: string): void {
    this.channel(teamId, channelId).deleted = true;
  }

  renameChannel(teamId: string, channelId: string, displayName: string): void {
    this.channel(teamId, channelId).displayName = displayName;
  }

  /** The channel's files folder item, for adding files with the drive API of the emulator. */
  filesFolderItem(channel: StoredChannel): StoredItem {
    const item = channel.filesFolder ? this.drives.item(channel.filesFolder.itemId) : undefined;
    if (!item) throw new Error(`channel ${channel.displayName} has no files folder`);
    return item;
  }

  /** A sharing URL for a file, as a reference attachment's `contentUrl` carries (resolvable through /shares). */
  shareUrl(item: StoredItem): string {
    const url = `https://contoso.sharepoint.com/sites/emulated/Shared%20Documents/${encodeURIComponent(item.name)}?d=${item.id}`;
    this.shared.set(url, item.id);
    return url;
  }

  post(channel: StoredChannel, input: MessageInput): StoredMessage {
    const message = this.newMessage(channel, null, input);
    channel.threads.set(message.id, { root: message, replies: [], chainSeq: message.seq, chainModified: message.lastModified });
    this.onMessage?.(channel, message, 'created');
    return message;
  }

  reply(channel: StoredChannel, rootId: string, input: MessageInput): StoredMessage {
    const thread = this.thread(channel, rootId);
    const message = this.newMessage(channel, rootId, input);
    thread.replies.push(message);
    this.touchChain(thread, message);
    this.onMessage?.(channel, message, 'created');
    return message;
  }

  edit(channel: StoredChannel, messageId: string, html: string): StoredMessage {
    const { thread, message } = this.find(channel, messageId);
    message.body = html;
    message.lastEdited = this.now();
    message.lastModified = message.lastEdited;
    message.seq = ++this.seq;
    this.touchChain(thread, message);
    this.onMessage?.(channel, message, 'updated');
    return message;
  }

  /** A change that is not an edit (a reaction): lastModifiedDateTime moves, the text does not. */
  react(channel: StoredChannel, messageId: string): StoredMessage {
    const { thread, message } = this.find(channel, messageId);
    message.lastModified = this.now();
    message.seq = ++this.seq;
    this.touchChain(thread, message);
    this.onMessage?.(channel, message, 'updated');
    return message;
  }

  /** Soft delete, as Teams does: the message stays as a tombstone with `deletedDateTime`. */
  deleteMessage(channel: StoredChannel, messageId: string): void {
    const { thread, message } = this.find(channel, messageId);
    message.deleted = this.now();
    message.lastModified = message.deleted;
    message.seq = ++this.seq;
    this.touchChain(thread, message);
    this.onMessage?.(channel, message, 'deleted');
  }

  /**
   * A thread removed for good, as a retention policy removes it: no tombstone
   * in any listing, 404 on the root and its replies. Microsoft documents
   * retention deletions as permanent (https://learn.microsoft.com/en-us/purview/retention-policies-teams)
   * and Graph does not say how long soft-deleted roots stay listed, so the
   * emulator takes the worst case: they may vanish without a trace.
   */
  purgeThread(channel: StoredChannel, rootId: string): void {
    this.thread(channel, rootId);
    channel.threads.delete(rootId);
    ++this.seq;
  }

  /** Every delta token issued so far for this channel stops working. */
  expireDeltaTokens(channel: StoredChannel, answer: 410 | 400 = 410): void {
    channel.tokenGeneration++;
    channel.expiredAnswer = answer;
  }

  team(teamId: string): StoredTeam {
    const team = this.teams.get(teamId);
    if (!team) throw new Error(`the emulator has no team ${teamId}`);
    return team;
  }

  channel(teamId: string, channelId: string): StoredChannel {
    const channel = this.team(teamId).channels.get(channelId);
    if (!channel) throw new Error(`the emulator has no channel ${channelId}`);
    return channel;
  }

  thread(channel: StoredChannel, rootId: string): StoredThread {
    const thread = channel.threads.get(rootId);
    if (!thread) throw new Error(`channel ${channel.displayName} has no thread ${rootId}`);
    return thread;
  }

  private find(channel: StoredChannel, messageId: string): { thread: StoredThread; message: StoredMessage } {
    for (const thread of channel.threads.values()) {
      if (thread.root.id === messageId) return { thread, message: thread.root };
      const reply = thread.replies.find((r) => r.id === messageId);
      if (reply) return { thread, message: reply };
    }
    throw new Error(`channel ${channel.displayName} has no message ${messageId}`);
  }

  private touchChain(thread: StoredThread, message: StoredMessage): void {
    thread.chainSeq = message.seq;
    thread.chainModified = Math.max(thread.chainModified, message.lastModified);
  }

  private newMessage(channel: StoredChannel, replyToId: string | null, input: MessageInput): StoredMessage {
    const created = input.at ? input.at.getTime() : this.now();
    const id = String(created * 1000 + (nextId() % 1000));
    const hosted = new Map<string, StoredHostedContent>();
    for (const h of input.hosted ?? []) {
      const hostedId = h.id ?? Buffer.from(`id=${nextId()},type=1,url=https://eu-api.asm.skype.com/v1/objects/0-${randomBytes(6).toString('hex')}/views/imgo`).toString('base64');
      hosted.set(hostedId, { id: hostedId, bytes: Buffer.from(h.bytes), contentType: h.contentType });
    }
    // `{{hosted:N}}` in the body stands for the Graph URL of the N-th inline image, as Teams writes it in <img src>.
    const messagePath = replyToId === null ? `messages/${id}` : `messages/${replyToId}/replies/${id}`;
    const hostedIds = [...hosted.keys()];
    const hostedUrl = (text: string) =>
      text.replace(/\{\{hosted:(\d+)\}\}/g, (_, n: string) => `${this.graphBaseUrl}/teams/${channel.teamId}/channels/${channel.id}/${messagePath}/hostedContents/${hostedIds[Number(n)] ?? 'missing'}/$value`);
    const body = hostedUrl(input.html ?? '');
    // A code snippet card's content points at its hosted content the same way (`codeSnippetUrl`).
    const attachments = (input.attachments ?? []).map((a) => (typeof a.content === 'string' ? { ...a, content: hostedUrl(a.content) } : a));
    return {
      id,
      replyToId,
      author: input.author === undefined ? DEFAULT_AUTHOR : input.author,
      bodyType: input.bodyType ?? 'html',
      body,
      subject: input.subject ?? null,
      messageType: input.messageType ?? 'message',
      created,
      lastModified: Math.max(created, input.at ? created : 0),
      lastEdited: null,
      deleted: null,
      attachments,
      mentions: input.mentions ?? [],
      hosted,
      seq: ++this.seq,
    };
  }
}
