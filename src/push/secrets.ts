import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The secret of one subscription: Graph's `clientState` (at most 128
 * characters) or Drive's channel `token` (at most 256). Made in the activity
 * that creates the subscription, sent to the cloud once, and stored only as
 * its digest; it never enters a workflow history or a log.
 */
export function newSubscriptionSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function secretDigest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Does a received secret match the stored digest? Constant time over the digests (equal lengths by construction). */
export function secretMatches(received: string | undefined, digest: Buffer): boolean {
  if (typeof received !== 'string' || received.length === 0 || received.length > 512) return false;
  const candidate = secretDigest(received);
  return candidate.length === digest.length && timingSafeEqual(candidate, digest);
}
