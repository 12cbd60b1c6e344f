import type { BudgetClock } from '../../src/budget/budget-clock.js';

/**
 * A clock that moves only when the test says so, for the shared budget and the
 * emulators' quota windows alike. `until` waits for a condition re-checked each
 * time someone starts sleeping (or the test calls `poke`), so a test advances
 * time only once every worker is waiting on it: counts, never durations.
 */
export class ManualClock implements BudgetClock {
  private t: number;
  private sleepers: { at: number; resolve: () => void }[] = [];
  private watchers: { check: () => boolean; resolve: () => void }[] = [];

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  localNow(): number {
    return this.t;
  }

  get sleeping(): number {
    return this.sleepers.length;
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.sleepers.push({ at: this.t + ms, resolve });
      this.poke();
    });
  }

  /** Moves time by `ms` and wakes whoever's time has come. */
  advance(ms: number): void {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.at <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) s.resolve();
  }

  /** Moves time to the first sleeper's wake-up (none: nothing happens). */
  advanceToNext(): void {
    if (this.sleepers.length === 0) return;
    this.advance(Math.min(...this.sleepers.map((s) => s.at)) - this.t);
  }

  /** Resolves once `check` holds; checked now and whenever someone starts sleeping or `poke` is called. */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve) => this.watchers.push({ check, resolve }));
  }

  poke(): void {
    const ready = this.watchers.filter((w) => w.check());
    this.watchers = this.watchers.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}
