import type { PushSubscriptionRow } from '../db/push-subscriptions.js';
import { DRIVE_CHANNEL_MAX_MS } from '../providers/google-drive/watch.js';
import { GRAPH_SUBSCRIPTION_MAX_MINUTES } from '../providers/microsoft-graph/subscriptions.js';

/**
 * When a push subscription is renewed (Graph) or replaced (Drive): once half
 * its life is gone. The half left is the margin for failures: a failed renewal
 * is tried again within minutes while the old subscription still delivers.
 * Pure rules, shared by the keeper's activity and the workflow tests that skip
 * through real lifetimes (test/workflows/push-keeper-renewals.test.ts).
 */

type Kind = PushSubscriptionRow['kind'];

/** How long a subscription of this kind may live: the source's documented limit, or less when asked. */
export function subscriptionLifetimeMs(kind: Kind, askedMs?: number): number {
  const max = kind === 'driveChanges' ? DRIVE_CHANNEL_MAX_MS : GRAPH_SUBSCRIPTION_MAX_MINUTES[kind] * 60_000;
  return askedMs ? Math.min(askedMs, max) : max;
}

/** The moment a subscription expiring at `expiresAt` falls due for renewal or replacement. */
export function renewalDueAt(kind: Kind, expiresAt: number, askedMs?: number): number {
  return expiresAt - subscriptionLifetimeMs(kind, askedMs) / 2;
}

/** The keeper's next look: the earliest moment due, never sooner than a second from `now`. */
export function nextCheckAt(now: number, due: number[]): number | undefined {
  return due.length ? Math.max(now + 1000, Math.min(...due)) : undefined;
}
