import { randomUUID } from 'node:crypto';
import { PushEmulator } from '../push-delivery.js';
import type { AccessGrant } from './identity.js';
import { type GraphAnswer, graphError } from './routes.js';
import type { GraphStore } from './store.js';
import type { StoredChannel, StoredMessage, TeamsStore } from './teams-store.js';

/**
 * Graph change notifications: `/v1.0/subscriptions` (create, get, list, renew, delete, reauthorize),
 * the validation handshake, notifications for drive and channel-message changes, and lifecycle
 * events, delivered through a PushOutbox (../push-delivery.ts) with its faults.
 *
 * Test API (`emulator.push`):
 * - `configure({ delayMs, duplicates, reorderWindow, lossRate, seed, dropAll })`, `flush()`,
 *   `settled()`, `delivered`, `dropped`: see ../push-delivery.ts.
 * - `fireLifecycle(subscriptionId, 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed')`:
 *   POSTs the lifecycle notification to the subscription's lifecycleNotificationUrl (false when it
 *   has none: Graph sends lifecycle events only there); `subscriptionRemoved` also removes it.
 * - `subscriptions`: the live ones by id; `clock`: the emulator's now (epoch ms), settable so a test
 *   can move past an expiry; `validationTimeoutMs`: how long the handshake waits (Graph: 10 s).
 * - A drive change (any delta entry) notifies every subscription on that drive's root, once per
 *   burst of changes made in one synchronous step; a channel message created, edited or deleted
 *   notifies the channel's subscriptions whose changeType names that change, one POST each.
 */

export type LifecycleEvent = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';
type ChangeKind = 'created' | 'updated' | 'deleted';

type Target = { kind: 'driveItem'; driveId: string } | { kind: 'channelMessages'; teamId: string; channelId: string };

export interface EmulatedSubscription {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
  clientState?: string;
  expirationDateTime: string;
  expiresAt: number;
  applicationId: string;
  target: Target;
  /** A reauthorizationRequired event was sent and neither a renewal nor a reauthorize has answered it. */
  reauthorizationRequired: boolean;
}

interface SubscriptionInput {
  resource?: unknown;
  changeType?: unknown;
  notificationUrl?: unknown;
  lifecycleNotificationUrl?: unknown;
  clientState?: unknown;
  expirationDateTime?: unknown;
}

/**
 * Subscription lifetime table of the subscription resource page
 * (https://learn.microsoft.com/en-us/graph/api/resources/subscription#subscription-lifetime):
 * OneDrive driveItem 42,300 minutes, Teams chatMessage 4,320 minutes.
 */
const MAX_MINUTES = { driveItem: 42_300, channelMessages: 4_320 } as const;
/** expirationDateTime: "Any value under 45 minutes after the time of the request is automatically set to 45 minutes after the request time" (same page). */
const MIN_LIFETIME_MS = 45 * 60_000;
/**
 * Teams messages: "If you request a subscription expirationDateTime that is more than 1 hour in the future, you must
 * subscribe to lifecycle notifications by including a lifecycleNotificationUrl property … Otherwise your subscription
 * request will fail" (https://learn.microsoft.com/en-us/graph/teams-changenotifications-chatmessage), with the message below.
 */
const TEAMS_WITHOUT_LIFECYCLE_MS = 60 * 60_000;

const invalid = (message: string): GraphAnswer => graphError(400, 'InvalidRequest', message);
const notFound = (id: string): GraphAnswer => graphError(404, 'ResourceNotFound', `The object was not found. Subscription Id '${id}'.`);

export class GraphPush extends PushEmulator {
  readonly subscriptions = new Map<string, EmulatedSubscription>();
  /** "Within 10 seconds" (change-notifications-delivery-webhooks, "Notification endpoint validation"). */
  validationTimeoutMs = 10_000;
  private store: GraphStore | undefined;
  private teams: TeamsStore | undefined;
  private changedDrives = new Set<string>();
  private changedMessages: Array<{ channel: StoredChannel; message: StoredMessage; change: ChangeKind }> = [];

  constructor(
    private readonly graphBaseUrl: string,
    private readonly tenantId: string,
  ) {
    super();
  }

  /** Listens to the emulator's stores (again after a reset). */
  attach(store: GraphStore, teams: TeamsStore): void {
    this.store = store;
    this.teams = teams;
    store.onChange = (driveId) => {
      this.changedDrives.add(driveId);
      this.scheduleFlush();
    };
    teams.onMessage = (channel, message, change) => {
      this.changedMessages.push({ channel, message, change });
      this.scheduleFlush();
    };
  }

  override reset(): void {
    super.reset();
    this.subscriptions.clear();
    this.changedDrives.clear();
    this.changedMessages = [];
    this.validationTimeoutMs = 10_000;
  }

  /** Sends a lifecycle event; false when the subscription has no lifecycleNotificationUrl, so Graph would send nothing. */
  fireLifecycle(subscriptionId: string, event: LifecycleEvent): boolean {
    const sub = this.live(subscriptionId);
    if (!sub) throw new Error(`the emulator has no live subscription ${subscriptionId}`);
    if (event === 'reauthorizationRequired') sub.reauthorizationRequired = true;
    if (event === 'subscriptionRemoved') this.subscriptions.delete(sub.id);
    if (!sub.lifecycleNotificationUrl) return false;
    // Lifecycle notification shape: https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events
    const body = {
      value: [
        {
          subscriptionId: sub.id,
          subscriptionExpirationDateTime: sub.expirationDateTime,
          tenantId: this.tenantId,
          clientState: sub.clientState ?? null,
          lifecycleEvent: event,
        },
      ],
    };
    this.outbox.send({ kind: 'lifecycle', url: sub.lifecycleNotificationUrl, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), subscriptionId: sub.id });
    return true;
  }

  handles(graphPath: string): boolean {
    return /^\/subscriptions(\/|$)/.test(graphPath);
  }

  async answer(method: string, graphPath: string, bodyText: string, grant: AccessGrant): Promise<GraphAnswer> {
    const match = /^\/subscriptions(?:\/([^/]+))?(\/reauthorize)?$/.exec(graphPath);
    if (!match) return graphError(400, 'BadRequest', `Unsupported segment in ${graphPath}.`);
    const [, id, reauthorize] = match;
    if (id === undefined) {
      if (method === 'GET') return { status: 200, body: { value: [...this.subscriptions.values()].filter((s) => this.live(s.id)).map((s) => this.render(s)) } };
      if (method === 'POST') return this.create(bodyText, grant);
      return graphError(405, 'methodNotAllowed', `${method} is not allowed on /subscriptions.`);
    }
    const sub = this.live(id);
    if (!sub) return notFound(id);
    if (reauthorize) {
      if (method !== 'POST') return graphError(405, 'methodNotAllowed', 'POST only.');
      sub.reauthorizationRequired = false;
      return { status: 204 };
    }
    if (method === 'GET') return { status: 200, body: this.render(sub) };
    if (method === 'DELETE') {
      this.subscriptions.delete(id);
      return { status: 204 };
    }
    if (method === 'PATCH') return this.renew(sub, bodyText);
    return graphError(405, 'methodNotAllowed', `${method} is not allowed on a subscription.`);
  }

  /** A subscription past its expiry is gone: Graph stops notifying and answers 404 for it. */
  private live(id: string): EmulatedSubscription | undefined {
    const sub = this.subscriptions.get(id);
    if (sub && sub.expiresAt <= this.clock()) {
      this.subscriptions.delete(id);
      return undefined;
    }
    return sub;
  }

  private async create(bodyText: string, grant: AccessGrant): Promise<GraphAnswer> {
    let input: SubscriptionInput;
    try {
      input = JSON.parse(bodyText) as SubscriptionInput;
    } catch {
      return invalid('The request body is not valid JSON.');
    }
    const { resource, changeType, notificationUrl, lifecycleNotificationUrl, clientState, expirationDateTime } = input;
    if (typeof resource !== 'string' || typeof changeType !== 'string' || typeof notificationUrl !== 'string' || typeof expirationDateTime !== 'string') {
      return invalid('resource, changeType, notificationUrl and expirationDateTime are required.');
    }
    // clientState: "The maximum length is 128 characters" (subscription resource page).
    if (clientState !== undefined && (typeof clientState !== 'string' || clientState.length > 128)) return invalid('clientState must be a string of at most 128 characters.');
    if (lifecycleNotificationUrl !== undefined && typeof lifecycleNotificationUrl !== 'string') return invalid('lifecycleNotificationUrl must be a string.');
    const target = this.resolve(resource, grant);
    if ('status' in target) return target;
    const refused = checkChangeType(target, changeType) ?? checkUrl(notificationUrl) ?? (lifecycleNotificationUrl ? checkUrl(lifecycleNotificationUrl) : undefined);
    if (refused) return refused;
    const expiry = this.expiry(target, expirationDateTime, lifecycleNotificationUrl !== undefined);
    if ('status' in expiry) return expiry;
    // Graph validates both endpoints before it creates the subscription (lifecycle events page:
    // "If you're using the webhooks delivery channel, you must validate both endpoints").
    for (const url of [notificationUrl, ...(lifecycleNotificationUrl ? [lifecycleNotificationUrl] : [])]) {
      const failure = await this.validate(url);
      if (failure) {
        return invalid(`Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request. (${failure})`);
      }
    }
    const sub: EmulatedSubscription = {
      id: randomUUID(),
      resource,
      changeType,
      notificationUrl,
      ...(lifecycleNotificationUrl ? { lifecycleNotificationUrl } : {}),
      ...(clientState !== undefined ? { clientState } : {}),
      expirationDateTime: new Date(expiry.at).toISOString(),
      expiresAt: expiry.at,
      applicationId: grant.clientId,
      target,
      reauthorizationRequired: false,
    };
    this.subscriptions.set(sub.id, sub);
    return { status: 201, body: this.render(sub) };
  }

  private renew(sub: EmulatedSubscription, bodyText: string): GraphAnswer {
    let input: SubscriptionInput;
    try {
      input = JSON.parse(bodyText) as SubscriptionInput;
    } catch {
      return invalid('The request body is not valid JSON.');
    }
    if (typeof input.expirationDateTime !== 'string') return invalid('expirationDateTime is required.');
    const expiry = this.expiry(sub.target, input.expirationDateTime, sub.lifecycleNotificationUrl !== undefined);
    if ('status' in expiry) return expiry;
    sub.expiresAt = expiry.at;
    sub.expirationDateTime = new Date(expiry.at).toISOString();
    // Renewing answers a reauthorizationRequired event too (lifecycle events page, "Actions to take").
    sub.reauthorizationRequired = false;
    return { status: 200, body: this.render(sub) };
  }

  /** The expiry Graph grants, or its refusal: past the resource's maximum is a 400, under 45 minutes is raised to 45. */
  private expiry(target: Target, requested: string, withLifecycleUrl: boolean): { at: number } | GraphAnswer {
    const asked = Date.parse(requested);
    const now = this.clock();
    if (!Number.isFinite(asked)) return invalid(`expirationDateTime '${requested}' is not a date.`);
    if (asked <= now) return invalid('Subscription expiration must be in the future.');
    const max = MAX_MINUTES[target.kind];
    if (asked > now + max * 60_000) return invalid(`Subscription expiration can only be ${max} minutes in the future.`);
    const at = Math.max(asked, now + MIN_LIFETIME_MS);
    if (target.kind === 'channelMessages' && !withLifecycleUrl && at > now + TEAMS_WITHOUT_LIFECYCLE_MS) {
      return invalid('lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour.');
    }
    return { at };
  }

  /** The subscribable resources this emulator knows: a drive's root, and a channel's messages. */
  private resolve(resource: string, grant: AccessGrant): Target | GraphAnswer {
    const store = this.store;
    const teams = this.teams;
    if (!store || !teams) throw new Error('GraphPush is not attached to the emulator stores');
    const path = resource.replace(/^\/+/, '').replace(/\/+$/, '');
    let driveId: string | undefined;
    let m: RegExpExecArray | null;
    if ((m = /^drives\/([^/]+)\/root$/i.exec(path))) driveId = store.drives.has(m[1] ?? '') ? m[1] : undefined;
    else if (/^me\/drive\/root$/i.test(path)) driveId = grant.userId ? store.userDrives.get(grant.userId.toLowerCase()) : undefined;
    else if ((m = /^users\/([^/]+)\/drive\/root$/i.exec(path))) driveId = store.userDrives.get((m[1] ?? '').toLowerCase());
    else if ((m = /^sites\/([^/]+)\/drive\/root$/i.exec(path))) driveId = store.siteDrives.get(m[1] ?? '');
    // A team's library, as its group's drive.
    else if ((m = /^groups\/([^/]+)\/drive\/root$/i.exec(path))) driveId = teams.teams.get(m[1] ?? '')?.driveId;
    else if ((m = /^teams\/([^/]+)\/channels\/([^/]+)\/messages$/i.exec(path))) {
      const channel = teams.teams.get(m[1] ?? '')?.channels.get(m[2] ?? '');
      if (!channel || channel.deleted) return graphError(404, 'NotFound', `No channel ${m[2] ?? ''} in team ${m[1] ?? ''}.`);
      return { kind: 'channelMessages', teamId: channel.teamId, channelId: channel.id };
    } else {
      // OneDrive for Business and SharePoint notify only on a drive's root (driveItem resource page: "only on the root folder").
      return invalid(`Resource '${resource}' is not supported for subscriptions by this emulator (a drive root or a channel's messages).`);
    }
    if (!driveId) return graphError(404, 'itemNotFound', `The resource '${resource}' could not be found.`);
    return { kind: 'driveItem', driveId };
  }

  /**
   * The handshake: POST `notificationUrl?validationToken=…` with a text/plain body; the endpoint must
   * answer 200, text/plain, the token as its body, "within 10 seconds"
   * (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks, "Notification
   * endpoint validation"). The token has spaces and colons, as Graph's do, so it must be decoded.
   */
  private async validate(url: string): Promise<string | undefined> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = `${url}${url.includes('?') ? '&' : '?'}validationToken=${encodeURIComponent(token)}`;
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        signal: AbortSignal.timeout(this.validationTimeoutMs),
      });
      const text = await response.text();
      if (response.status !== 200) return `the endpoint answered ${response.status}`;
      if (!(response.headers.get('content-type') ?? '').toLowerCase().startsWith('text/plain')) return 'the answer is not text/plain';
      if (text !== token) return 'the answer is not the validation token';
      return undefined;
    } catch (e) {
      return e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${this.validationTimeoutMs} ms` : 'the endpoint could not be reached';
    }
  }

  private render(sub: EmulatedSubscription): Record<string, string | boolean | null> {
    return {
      '@odata.context': `${this.graphBaseUrl}/$metadata#subscriptions/$entity`,
      id: sub.id,
      resource: sub.resource,
      applicationId: sub.applicationId,
      changeType: sub.changeType,
      clientState: sub.clientState ?? null,
      notificationUrl: sub.notificationUrl,
      lifecycleNotificationUrl: sub.lifecycleNotificationUrl ?? null,
      expirationDateTime: sub.expirationDateTime,
      includeResourceData: false,
      latestSupportedTlsVersion: 'v1_2',
    };
  }

  /** Changes made in one synchronous step are notified together, once that step is over. */
  protected notifyChanges(): void {
    const drives = this.changedDrives;
    const messages = this.changedMessages;
    this.changedDrives = new Set();
    this.changedMessages = [];
    for (const sub of [...this.subscriptions.values()]) {
      if (!this.live(sub.id)) continue;
      const { target } = sub;
      if (target.kind === 'driveItem') {
        // A drive root subscription says only that something in the drive changed: delta tells what.
        if (drives.has(target.driveId)) this.notify(sub, 'updated', sub.resource);
        continue;
      }
      const wanted = new Set(sub.changeType.split(',').map((c) => c.trim()));
      for (const { channel, message, change } of messages) {
        if (channel.teamId !== target.teamId || channel.id !== target.channelId || !wanted.has(change)) continue;
        const base = `teams('${channel.teamId}')/channels('${channel.id}')`;
        const resource = message.replyToId === null ? `${base}/messages('${message.id}')` : `${base}/messages('${message.replyToId}')/replies('${message.id}')`;
        this.notify(sub, change, resource, { id: message.id, '@odata.type': '#Microsoft.Graph.chatMessage', '@odata.id': resource });
      }
    }
  }

  /** One change notification (changeNotification resource type), alone in its collection. */
  private notify(sub: EmulatedSubscription, changeType: ChangeKind, resource: string, resourceData?: Record<string, string>): void {
    const body = {
      value: [
        {
          subscriptionId: sub.id,
          clientState: sub.clientState ?? null,
          changeType,
          resource,
          subscriptionExpirationDateTime: sub.expirationDateTime,
          tenantId: this.tenantId,
          ...(resourceData ? { resourceData } : {}),
        },
      ],
    };
    this.outbox.send({ kind: 'notification', url: sub.notificationUrl, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), subscriptionId: sub.id });
  }
}

/** "Drive root item and list change notifications support only the updated changeType" (subscription resource page). */
function checkChangeType(target: Target, changeType: string): GraphAnswer | undefined {
  const kinds = changeType.split(',').map((c) => c.trim());
  if (target.kind === 'driveItem') return changeType === 'updated' ? undefined : invalid(`changeType '${changeType}' is not supported on a drive root: only 'updated'.`);
  return kinds.length > 0 && kinds.every((k) => k === 'created' || k === 'updated' || k === 'deleted') ? undefined : invalid(`changeType '${changeType}' is not supported.`);
}

/** Graph calls only HTTPS endpoints; the emulator also calls plain HTTP on loopback so tests need no certificate. */
function checkUrl(url: string): GraphAnswer | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return invalid(`'${url}' is not an absolute URL.`);
  }
  const loopback = parsed.hostname === '127.0.0.1' || parsed.hostname === 'localhost' || parsed.hostname === '[::1]';
  if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && loopback)) return undefined;
  return invalid('NotificationUrl must be an https URL.');
}
