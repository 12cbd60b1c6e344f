import { z } from 'zod';
import { SourceProtocolError } from '../../../errors.js';

/**
 * The parts of Graph's chatMessage and channel that we read, checked on
 * arrival: a page that breaks them is a protocol error, not a reason to guess.
 */

const identity = z.object({ displayName: z.string().nullish() }).nullish();

const attachment = z.object({
  id: z.string().nullish(),
  contentType: z.string().nullish(),
  contentUrl: z.string().nullish(),
  name: z.string().nullish(),
  /** A card's or a forwarded message's own content (JSON in a string); see cards.ts. */
  content: z.string().nullish(),
});

export const chatMessage = z.object({
  id: z.string().min(1),
  replyToId: z.string().nullish(),
  messageType: z.string().nullish(),
  createdDateTime: z.string().nullish(),
  lastModifiedDateTime: z.string().nullish(),
  lastEditedDateTime: z.string().nullish(),
  deletedDateTime: z.string().nullish(),
  subject: z.string().nullish(),
  webUrl: z.string().nullish(),
  from: z.object({ user: identity, application: identity, device: identity }).nullish(),
  body: z.object({ contentType: z.string().nullish(), content: z.string().nullish() }).nullish(),
  attachments: z.array(attachment).nullish(),
  '@removed': z.object({ reason: z.string().optional() }).optional(),
});

export type GraphChatMessage = z.infer<typeof chatMessage>;
export type GraphAttachment = z.infer<typeof attachment>;

/** A root as delta and the channel listing return it, optionally with its replies expanded. */
const rootMessage = chatMessage.extend({
  replies: z.array(chatMessage).optional(),
  'replies@odata.nextLink': z.string().optional(),
});
export type RootMessage = z.infer<typeof rootMessage>;

const messagePage = z.object({
  value: z.array(rootMessage),
  '@odata.nextLink': z.string().optional(),
  '@odata.deltaLink': z.string().optional(),
});

const replyPage = z.object({ value: z.array(chatMessage), '@odata.nextLink': z.string().optional() });

const channel = z.object({
  id: z.string().min(1),
  displayName: z.string().nullish(),
  membershipType: z.string().nullish(),
  webUrl: z.string().nullish(),
});
const channelList = z.object({ value: z.array(channel), '@odata.nextLink': z.string().optional() });
export type GraphChannel = z.infer<typeof channel>;

function read<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SourceProtocolError(`${what} answered something Graph would not send (${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'bad shape'})`);
  }
  return parsed.data;
}

export const readMessagePage = (data: unknown, what: string) => read(messagePage, data, what);
export const readReplyPage = (data: unknown, what: string) => read(replyPage, data, what);
export const readChatMessage = (data: unknown, what: string) => read(chatMessage, data, what);
export const readChannelList = (data: unknown, what: string) => read(channelList, data, what);

/** A conversation message, as opposed to a system event (member added, channel renamed…). */
export const isConversationMessage = (m: GraphChatMessage) => (m.messageType ?? 'message') === 'message';
export const isDeleted = (m: GraphChatMessage) => m.deletedDateTime != null || m['@removed'] !== undefined;
