import { z } from 'zod';
import { isNotFound } from '../../errors.js';
import { parseDriveAnswer } from './api.js';
import type { DriveClient } from './client.js';

/**
 * Drive push channels on a change log (https://developers.google.com/workspace/drive/api/guides/push):
 * `changes.watch` opens one, `channels.stop` closes it. A channel cannot be renewed: a new one replaces it
 * before it expires, then the old one is stopped. The channel `token` is a secret that Drive echoes in
 * `X-Goog-Channel-Token`: it is sent, never logged, and no error message built here quotes a body.
 */

export interface DriveChannel {
  id: string;
  /** Drive's opaque id of the watched resource: `channels.stop` needs it with the channel id. */
  resourceId: string;
  /** When Drive stops sending, epoch ms (Drive's answer; it may be earlier than asked). */
  expiration: number;
  token: string;
  driveId?: string;
}

/**
 * Longest life of a `changes` channel: "Changes resource: 604800 seconds (1 week)" (push guide,
 * "Maximum expiration"); Drive answers an expiration capped there.
 */
export const DRIVE_CHANNEL_MAX_MS: number = 7 * 24 * 60 * 60 * 1000;

const channelSchema = z.object({
  id: z.string().min(1),
  resourceId: z.string().min(1),
  /** int64 in the JSON as a string, as Drive sends every long. */
  expiration: z.union([z.string().regex(/^\d+$/), z.number()]).optional(),
});

const JSON_BODY = { 'content-type': 'application/json' } as const;

/**
 * Opens a channel on a change log: the user's, or one shared drive's with `driveId`. `expirationMs` is the
 * absolute time (epoch ms) the channel should end, as Drive's `expiration`; `pageToken` is the change log
 * position the channel watches from (changes.watch requires it).
 */
export async function watchDriveChanges(
  client: DriveClient,
  input: { id: string; token: string; address: string; expirationMs: number; pageToken: string; driveId?: string },
): Promise<DriveChannel> {
  const { data } = await client.http.json(`${client.baseUrl}/drive/v3/changes/watch`, {
    method: 'POST',
    headers: JSON_BODY,
    query: {
      pageToken: input.pageToken,
      supportsAllDrives: true,
      includeItemsFromAllDrives: true,
      ...(input.driveId ? { driveId: input.driveId } : {}),
    },
    body: JSON.stringify({ id: input.id, type: 'web_hook', address: input.address, token: input.token, expiration: String(input.expirationMs) }),
  });
  const channel = parseDriveAnswer(channelSchema, data, `changes.watch for channel ${input.id}`);
  // No expiration in the answer: Drive did not say, so the one asked for is the best known.
  const expiration = channel.expiration === undefined ? input.expirationMs : Number(channel.expiration);
  return { id: channel.id, resourceId: channel.resourceId, expiration, token: input.token, ...(input.driveId ? { driveId: input.driveId } : {}) };
}

/** Stops a channel; one Drive no longer knows (404: expired or stopped) is already gone. */
export async function stopDriveChannel(client: DriveClient, channel: { id: string; resourceId: string }): Promise<void> {
  try {
    const response = await client.http.send(`${client.baseUrl}/drive/v3/channels/stop`, {
      method: 'POST',
      headers: JSON_BODY,
      body: JSON.stringify({ id: channel.id, resourceId: channel.resourceId }),
    });
    await response.discard();
  } catch (e) {
    if (isNotFound(e)) return;
    throw e;
  }
}
