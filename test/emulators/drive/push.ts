import { randomBytes } from 'node:crypto';
import { PushEmulator } from '../push-delivery.js';
import { listChanges } from './change-log.js';
import { googleError } from './faults.js';
import { badRequest, driveNotFound, flag, isMember, type DriveReply, type DriveRequest } from './routes.js';
import type { DriveStore } from './store.js';

/**
 * Drive push channels on change logs (https://developers.google.com/workspace/drive/api/guides/push):
 * `POST /drive/v3/changes/watch` opens one, `POST /drive/v3/channels/stop` closes it; a `sync`
 * message follows each opening, a `change` message each step that adds to the watched log.
 * Messages go through a PushOutbox (../push-delivery.ts) with its faults.
 *
 * Test API (`emulator.push`):
 * - `configure({ delayMs, duplicates, reorderWindow, lossRate, seed, dropAll })`, `flush()`,
 *   `settled()`, `delivered`, `dropped`: see ../push-delivery.ts.
 * - `channels`: the open ones by channel id; `clock`: the emulator's now (epoch ms), settable so a
 *   test can move past an expiry (an expired channel sends nothing and `stop` answers 404).
 * - Changes made in one synchronous step are one `change` message per channel whose log they reach
 *   (the same rule changes.list answers with: the user's log, or one shared drive's).
 */

export interface EmulatedChannel {
  id: string;
  resourceId: string;
  resourceUri: string;
  address: string;
  token?: string;
  /** Epoch ms. */
  expiration: number;
  /** Who opened it: the log it watches is this identity's (or `driveId`'s). */
  identity: string;
  driveId?: string;
  /** The log position up to which changes were already notified. */
  seenSeq: number;
  /** X-Goog-Message-Number of the last message: the sync message is 1. */
  messageNumber: number;
}

/** "Changes resource: 604800 seconds (1 week)" (push guide, maximum expiration); later asks are cut to it. */
const MAX_LIFETIME_MS = 604_800_000;
/** No `expiration` asked: the guide names no default for Drive, so the emulator grants the shortest plausible, an hour. */
const DEFAULT_LIFETIME_MS = 3_600_000;

interface ChannelInput {
  id?: unknown;
  resourceId?: unknown;
  type?: unknown;
  address?: unknown;
  token?: unknown;
  expiration?: unknown;
}

export class DrivePush extends PushEmulator {
  readonly channels = new Map<string, EmulatedChannel>();
  private store: DriveStore | undefined;

  constructor(private readonly baseUrl: () => string) {
    super();
  }

  /** Listens to the emulator's store (again after a reset). */
  attach(store: DriveStore): void {
    this.store = store;
    store.onLogged = () => this.scheduleFlush();
  }

  override reset(): void {
    super.reset();
    this.channels.clear();
  }

  handles(pathname: string): boolean {
    return pathname === '/drive/v3/changes/watch' || pathname === '/drive/v3/channels/stop';
  }

  handle(req: DriveRequest, bodyText: string): DriveReply {
    if (req.method !== 'POST') return googleError(405, 'httpMethodNotAllowed', `${req.method} is not allowed on ${req.pathname}`);
    let input: ChannelInput;
    try {
      input = (bodyText ? JSON.parse(bodyText) : {}) as ChannelInput;
    } catch {
      return googleError(400, 'parseError', 'This API does not support parsing form-encoded input.');
    }
    return req.pathname === '/drive/v3/channels/stop' ? this.stop(input) : this.watch(req, input);
  }

  /** changes.watch (https://developers.google.com/workspace/drive/api/reference/rest/v3/changes/watch): pageToken is required. */
  private watch(req: DriveRequest, input: ChannelInput): DriveReply {
    const store = this.attached();
    const token = req.query.get('pageToken');
    if (token === null) return googleError(400, 'required', 'The pageToken parameter is required.', { location: 'pageToken', locationType: 'parameter' });
    const from = Number(token);
    if (!/^\d+$/.test(token) || from < store.oldestValidToken || from > store.nextSeq) return badRequest('Invalid Value', 'pageToken');
    const driveId = req.query.get('driveId') ?? undefined;
    if (driveId && !flag(req.query, 'supportsAllDrives')) return badRequest('driveId needs supportsAllDrives=true', 'driveId');
    if (driveId && !isMember(store, req.identity, driveId)) return driveNotFound(driveId);
    if (typeof input.id !== 'string' || input.id === '') return googleError(400, 'required', 'Required parameter: id', { location: 'id', locationType: 'parameter' });
    // Channel ids are unique per project while the channel lives.
    if (this.live(input.id)) return googleError(400, 'channelIdNotUnique', `Channel id ${input.id} not unique`);
    if (input.type !== 'web_hook' && input.type !== 'webhook') return googleError(400, 'invalid', `Invalid value for type: ${String(input.type)}`);
    if (typeof input.address !== 'string' || !callable(input.address)) return googleError(400, 'push.webhookUrlNotHttps', 'WebHook callback must be HTTPS');
    if (input.token !== undefined && typeof input.token !== 'string') return googleError(400, 'invalid', 'Invalid value for token');
    const now = this.clock();
    const asked = input.expiration === undefined ? now + DEFAULT_LIFETIME_MS : Number(input.expiration);
    if (!Number.isFinite(asked) || asked <= now) return googleError(400, 'invalid', `Invalid value for expiration: ${String(input.expiration)}`);
    const resourceId = randomBytes(12).toString('base64url');
    const resourceUri = `${this.baseUrl()}/drive/v3/changes?alt=json&pageToken=${from}${driveId ? `&driveId=${encodeURIComponent(driveId)}&supportsAllDrives=true` : ''}`;
    const channel: EmulatedChannel = {
      id: input.id,
      resourceId,
      resourceUri,
      address: input.address,
      ...(input.token !== undefined ? { token: input.token } : {}),
      expiration: Math.min(asked, now + MAX_LIFETIME_MS),
      identity: req.identity,
      ...(driveId ? { driveId } : {}),
      seenSeq: store.nextSeq,
      messageNumber: 0,
    };
    this.channels.set(channel.id, channel);
    // The sync message comes after the answer: "a sync message … after a new channel is created" (push guide, "Sync message").
    setImmediate(() => this.message(channel, 'sync'));
    return {
      status: 200,
      body: {
        kind: 'api#channel',
        id: channel.id,
        resourceId,
        resourceUri,
        ...(channel.token !== undefined ? { token: channel.token } : {}),
        expiration: String(channel.expiration),
      },
    };
  }

  /** channels.stop: both ids must name an open channel; an unknown or expired one is a 404. */
  private stop(input: { id?: unknown; resourceId?: unknown }): DriveReply {
    const channel = typeof input.id === 'string' ? this.live(input.id) : undefined;
    if (!channel || channel.resourceId !== input.resourceId) {
      return googleError(404, 'notFound', `Channel '${String(input.id)}' not found for project`);
    }
    this.channels.delete(channel.id);
    return { status: 204 };
  }

  private live(id: string): EmulatedChannel | undefined {
    const channel = this.channels.get(id);
    if (channel && channel.expiration <= this.clock()) {
      this.channels.delete(id);
      return undefined;
    }
    return channel;
  }

  private attached(): DriveStore {
    if (!this.store) throw new Error('DrivePush is not attached to the emulator store');
    return this.store;
  }

  /** Changes made in one synchronous step are one message per channel, once that step is over. */
  protected notifyChanges(): void {
    const store = this.attached();
    for (const channel of [...this.channels.values()]) {
      if (!this.live(channel.id)) continue;
      const query = new URLSearchParams({ pageToken: String(channel.seenSeq), supportsAllDrives: 'true', includeItemsFromAllDrives: 'true', ...(channel.driveId ? { driveId: channel.driveId } : {}) });
      const reply = listChanges(store, { method: 'GET', pathname: '/drive/v3/changes', query, headers: {}, identity: channel.identity }, 1, this.baseUrl());
      channel.seenSeq = store.nextSeq;
      const changes = (reply.body as { changes?: unknown[] } | undefined)?.changes;
      // A log the identity can no longer read (tokens expired) is a change too: changes.list will say what.
      if (reply.status !== 200 || (changes?.length ?? 0) > 0) this.message(channel, 'change');
    }
  }

  /** One notification message: headers only, no body (push guide, "Understand the notification message format"). */
  private message(channel: EmulatedChannel, state: 'sync' | 'change'): void {
    if (!this.live(channel.id)) return;
    channel.messageNumber += 1;
    this.outbox.send({
      kind: state,
      url: channel.address,
      headers: {
        'x-goog-channel-id': channel.id,
        ...(channel.token !== undefined ? { 'x-goog-channel-token': channel.token } : {}),
        'x-goog-channel-expiration': new Date(channel.expiration).toUTCString(),
        'x-goog-message-number': String(channel.messageNumber),
        'x-goog-resource-id': channel.resourceId,
        'x-goog-resource-state': state,
        'x-goog-resource-uri': channel.resourceUri,
      },
      subscriptionId: channel.id,
    });
  }
}

/** Drive calls only HTTPS addresses; the emulator also calls plain HTTP on loopback so tests need no certificate. */
function callable(address: string): boolean {
  try {
    const url = new URL(address);
    const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
    return url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
  } catch {
    return false;
  }
}
