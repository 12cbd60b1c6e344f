import { randomUUID } from 'node:crypto';
import { describeError, isNotFound } from '../src/errors.js';
import {
  forgetSubscription,
  markOpened,
  markRenewed,
  saveSubscription,
  subscriptionsOf,
  type PushSubscriptionRow,
} from '../src/db/push-subscriptions.js';
import type { ConnectorRow } from '../src/db/schema.js';
import { databaseGoogleCredentials } from '../src/providers/google-drive/credentials.js';
import { openDriveSession } from '../src/providers/google-drive/session.js';
import { stopDriveChannel, watchDriveChanges } from '../src/providers/google-drive/watch.js';
import { graphClient } from '../src/providers/microsoft-graph/client.js';
import { createGraphSubscription, deleteGraphSubscription, renewGraphSubscription } from '../src/providers/microsoft-graph/subscriptions.js';
import { NOTIFICATION_PATHS } from '../src/push/notification-endpoint.js';
import { nextCheckAt, renewalDueAt, subscriptionLifetimeMs } from '../src/push/renewal-schedule.js';
import { newSubscriptionSecret, secretDigest } from '../src/push/secrets.js';
import { planSubscriptions, type WantedSubscription } from '../src/push/subscription-plan.js';
import type { KeepSubscriptionsInput, KeepSubscriptionsResult, LifecycleEvent } from '../workflows/definitions.js';
import type { ActivityDeps } from './deps.js';
import { buildSourceContext, withHeartbeats } from './source-context.js';

/** A failed create or renewal is tried again this soon (or at a quarter of a short test lifetime). */
const RETRY_FAILED_MS = 5 * 60_000;

/** Before the connector's first sync saved its cursor, the keeper looks again this soon. */
const NOTHING_TO_WATCH_RECHECK_MS = 60_000;

/** Why the connector should have no subscriptions, if it should not. */
function stopReason(deps: ActivityDeps, row: ConnectorRow | undefined, connectorId: number): string | undefined {
  if (!row) return `connector ${connectorId} no longer exists`;
  if (row.deleted_date !== null) return `connector ${row.id} was deleted`;
  if (row.status === 'disabled') return `connector ${row.id} is disabled`;
  if (row.config.push !== true) return `push is off in connector ${row.id}'s config`;
  if (!deps.push?.publicUrl) return 'this service has no NOTIFICATION_PUBLIC_URL';
  return undefined;
}

const sameTarget = (row: PushSubscriptionRow, wanted: WantedSubscription): boolean => row.kind === wanted.kind && row.resource === wanted.resource;

/**
 * The keeper's activities: make the connector's subscriptions match what it
 * syncs (create, renew or replace before expiry, remove), act on lifecycle
 * events, and ask for a sync pass. Secrets are made here and stored as digests;
 * nothing secret is returned to the workflow.
 */
export function pushSubscriptionActivities(deps: ActivityDeps) {
  return {
    keepSubscriptions: async (input: KeepSubscriptionsInput): Promise<KeepSubscriptionsResult> => {
      const row = await deps.db.selectFrom('connectors').selectAll().where('id', '=', input.connectorId).executeTakeFirst();
      const existing = await subscriptionsOf(deps.db, input.connectorId);
      const keeper = new SubscriptionKeeper(deps, input, row);
      return withHeartbeats({ connectorId: input.connectorId }, async () => {
        const reason = stopReason(deps, row, input.connectorId);
        if (reason) {
          const removed = await keeper.removeAll(existing);
          deps.logger.info({ connectorId: input.connectorId, removed, reason }, 'push subscriptions removed');
          return { kind: 'stopped', reason, removed };
        }
        return keeper.keep(existing, planSubscriptions(row as ConnectorRow, deps.push?.microsoft.graphBaseUrl ?? ''));
      });
    },

    /** A sync pass the keeper asks for (missed notifications, a lost subscription, the daily pass): the bridge's signal-with-start. */
    requestPushSync: async (input: { connectorId: number; reason: string }): Promise<void> => {
      if (!deps.push) throw new Error('push is not configured on this worker');
      await deps.push.requestSync(input.connectorId, input.reason);
    },
  };
}

class SubscriptionKeeper {
  private created = 0;
  private renewed = 0;
  private removed = 0;
  private failed = 0;
  private syncNeeded: string | undefined;
  private retryAt: number | undefined;
  private readonly now = Date.now();

  constructor(
    private readonly deps: ActivityDeps,
    private readonly input: KeepSubscriptionsInput,
    private readonly row: ConnectorRow | undefined,
  ) {}

  async keep(existing: PushSubscriptionRow[], wanted: WantedSubscription[]): Promise<KeepSubscriptionsResult> {
    const live = await this.applyLifecycle(existing, this.input.lifecycle);
    const renewNow = new Set(this.input.lifecycle.filter((e) => e.event === 'reauthorizationRequired').map((e) => e.subscriptionId));
    const kept: PushSubscriptionRow[] = [];
    for (const sub of live) {
      if (!wanted.some((w) => sameTarget(sub, w))) await this.remove(sub);
      else kept.push(sub);
    }
    const active: PushSubscriptionRow[] = [];
    for (const want of wanted) {
      const sub = kept.find((s) => sameTarget(s, want));
      const next = !sub ? await this.create(want) : renewNow.has(sub.id) || this.renewalDue(sub) ? await this.renew(sub, want) : sub;
      if (next) active.push(next);
    }
    const due = active.map((s) => renewalDueAt(s.kind, new Date(s.expires_at).getTime(), this.input.lifetimeMs));
    if (this.retryAt !== undefined) due.push(this.retryAt);
    // Nothing to watch yet (no sync has saved a cursor): look again soon rather than at the routine check.
    if (wanted.length === 0) due.push(this.now + NOTHING_TO_WATCH_RECHECK_MS);
    const checkAt = nextCheckAt(this.now, due);
    return {
      kind: 'kept',
      active: active.length,
      created: this.created,
      renewed: this.renewed,
      removed: this.removed,
      failed: this.failed,
      ...(this.syncNeeded ? { syncNeeded: this.syncNeeded } : {}),
      ...(checkAt !== undefined ? { nextCheckAt: new Date(checkAt).toISOString() } : {}),
    };
  }

  async removeAll(existing: PushSubscriptionRow[]): Promise<number> {
    for (const sub of existing) await this.remove(sub);
    return this.removed;
  }

  /** missed: a pass; subscriptionRemoved: forget it (re-created below) and a pass; reauthorizationRequired: renewed below. */
  private async applyLifecycle(existing: PushSubscriptionRow[], events: LifecycleEvent[]): Promise<PushSubscriptionRow[]> {
    let live = existing;
    for (const e of events) {
      if (e.event === 'missed') this.syncNeeded ??= 'the source reported missed notifications';
      if (e.event === 'subscriptionRemoved') {
        this.syncNeeded ??= 'the source removed a subscription';
        if (live.some((s) => s.id === e.subscriptionId)) {
          await forgetSubscription(this.deps.db, e.subscriptionId);
          live = live.filter((s) => s.id !== e.subscriptionId);
        }
      }
    }
    return live;
  }

  private renewalDue(sub: PushSubscriptionRow): boolean {
    return this.now >= renewalDueAt(sub.kind, new Date(sub.expires_at).getTime(), this.input.lifetimeMs);
  }

  private address(path: string): string {
    return `${(this.deps.push?.publicUrl ?? '').replace(/\/+$/, '')}${path}`;
  }

  /** `replacing`: the old one still runs until this one is open, so nothing falls between them. */
  private async create(want: WantedSubscription, replacing = false): Promise<PushSubscriptionRow | undefined> {
    const secret = newSubscriptionSecret();
    const expiresMs = this.now + subscriptionLifetimeMs(want.kind, this.input.lifetimeMs);
    try {
      let row: Omit<PushSubscriptionRow, 'created_at' | 'renewed_at'>;
      if (want.source === 'graph') {
        const made = await createGraphSubscription(this.graph(), {
          resource: want.resource,
          // driveItem notifications come only as "updated"; channel messages as all three.
          changeType: want.kind === 'driveItem' ? 'updated' : 'created,updated,deleted',
          notificationUrl: this.address(NOTIFICATION_PATHS.graph),
          // Channel messages past an hour need a lifecycle URL ("Set up change notifications … lifecycle notifications").
          ...(want.kind === 'channelMessages' ? { lifecycleNotificationUrl: this.address(NOTIFICATION_PATHS.graphLifecycle) } : {}),
          clientState: secret,
          expirationDateTime: new Date(expiresMs).toISOString(),
        });
        row = { id: made.id, connector_id: this.input.connectorId, source: 'graph', kind: want.kind, resource: want.resource, resource_id: null, secret_sha256: secretDigest(secret), expires_at: new Date(made.expirationDateTime) };
        await saveSubscription(this.deps.db, row);
      } else {
        // The channel id is ours: stored first, so Drive's sync message (sent as the channel opens) finds it.
        const id = randomUUID();
        row = { id, connector_id: this.input.connectorId, source: 'drive', kind: 'driveChanges', resource: want.resource, resource_id: null, secret_sha256: secretDigest(secret), expires_at: new Date(expiresMs) };
        await saveSubscription(this.deps.db, row);
        try {
          const made = await watchDriveChanges(await this.drive(), {
            id,
            token: secret,
            address: this.address(NOTIFICATION_PATHS.drive),
            expirationMs: expiresMs,
            pageToken: want.pageToken,
            ...(want.driveId ? { driveId: want.driveId } : {}),
          });
          row = { ...row, resource_id: made.resourceId, expires_at: new Date(made.expiration) };
          await markOpened(this.deps.db, id, made.resourceId, row.expires_at);
        } catch (e) {
          await forgetSubscription(this.deps.db, id);
          throw e;
        }
      }
      this.created++;
      // Changes made between the last pass and this subscription are notified by nobody: one pass covers them.
      if (!replacing) this.syncNeeded ??= 'new push subscriptions';
      this.deps.push?.counters?.inc('connector_push_subscriptions_created_total', { source: want.source });
      this.deps.logger.info({ connectorId: this.input.connectorId, subscriptionId: row.id, kind: row.kind, resource: row.resource, expiresAt: row.expires_at }, 'push subscription created');
      return { ...row, created_at: new Date(), renewed_at: null };
    } catch (e) {
      this.failure(`could not subscribe to ${want.resource}`, e);
      return undefined;
    }
  }

  /** Graph: PATCH a later expiry (a missing one is made again). Drive: a new channel first, then the old one stopped. */
  private async renew(sub: PushSubscriptionRow, want: WantedSubscription): Promise<PushSubscriptionRow | undefined> {
    if (sub.source === 'drive') {
      const replacement = await this.create(want, true);
      if (!replacement) return sub;
      await this.remove(sub);
      this.countRenewal('drive', 'replaced');
      this.renewed++;
      return replacement;
    }
    const expiresMs = this.now + subscriptionLifetimeMs(sub.kind, this.input.lifetimeMs);
    try {
      const renewed = await renewGraphSubscription(this.graph(), sub.id, new Date(expiresMs).toISOString());
      const expiresAt = new Date(renewed.expirationDateTime);
      await markRenewed(this.deps.db, sub.id, expiresAt);
      this.renewed++;
      this.countRenewal('graph', 'renewed');
      return { ...sub, expires_at: expiresAt, renewed_at: new Date() };
    } catch (e) {
      this.countRenewal('graph', 'failed');
      // Any failed renewal may have cost notifications: a pass covers them.
      this.failure(`could not renew the subscription of ${sub.resource}`, e);
      if (!isNotFound(e)) return sub;
      await forgetSubscription(this.deps.db, sub.id);
      return this.create(want);
    }
  }

  private async remove(sub: PushSubscriptionRow): Promise<void> {
    try {
      if (this.row) {
        if (sub.source === 'graph') await deleteGraphSubscription(this.graph(), sub.id);
        else await stopDriveChannel(await this.drive(), { id: sub.id, resourceId: sub.resource_id ?? '' });
      }
    } catch (e) {
      // It expires by itself; its notifications name an id we no longer know, so they trigger nothing.
      this.deps.logger.warn({ connectorId: this.input.connectorId, subscriptionId: sub.id, error: describeError(e) }, 'could not remove a push subscription at the source; it will expire');
    }
    await forgetSubscription(this.deps.db, sub.id);
    this.removed++;
  }

  private failure(what: string, e: unknown): void {
    this.failed++;
    this.syncNeeded ??= `${what}: ${describeError(e)}`;
    this.retryAt = this.now + Math.min(RETRY_FAILED_MS, (this.input.lifetimeMs ?? Infinity) / 4);
    this.deps.logger.warn({ connectorId: this.input.connectorId, error: describeError(e) }, `push: ${what}`);
  }

  private countRenewal(source: string, outcome: string): void {
    this.deps.push?.counters?.inc('connector_push_renewals_total', { source, outcome });
  }

  private graph() {
    const push = this.deps.push;
    if (!push || !this.row) throw new Error('no Graph settings for push');
    return graphClient(buildSourceContext(this.deps, this.row), push.microsoft);
  }

  private async drive() {
    const push = this.deps.push;
    if (!push || !this.row) throw new Error('no Drive settings for push');
    const session = await openDriveSession(buildSourceContext(this.deps, this.row), push.google, databaseGoogleCredentials(this.deps.db));
    return session.client;
  }
}
