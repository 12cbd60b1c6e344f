/**
 * A token bucket per subscription: a flood of trusted notifications for one
 * subscription (a bulk upload) asks for at most `burst` syncs and then
 * `perSecond` (the debounce folds them anyway). Bounded in keys: the oldest
 * are forgotten first.
 */
const MAX_KEYS = 10_000;

export class NotificationRate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: { perSecond: number; burst: number },
    private readonly now: () => number,
  ) {}

  /** True when the notification may be checked now. */
  take(key: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now };
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = now;
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value as string);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
