/**
 * How hard the chaos suite attacks. `npm run test:chaos` sets CHAOS_SCALE=full
 * (the figures in docs/RELIABILITY.md); the normal `npm test` run (CI) uses the
 * small counts below, chosen so the whole chaos part stays within a few minutes
 * on a shared 2-core machine.
 */
export const FULL = process.env.CHAOS_SCALE === 'full';

const pick = <T>(full: T, ci: T): T => (FULL ? full : ci);

export const SCALE = {
  name: pick('full', 'ci'),
  /** Item 1: files in the killed sync, and how many SIGKILLs it suffers (per source). */
  killFiles: pick(1000, 100),
  kills: pick(10, 1),
  /** Item 2: files in the sync each outage interrupts, and how long each server stays down. */
  outageFiles: pick(300, 60),
  outageSeconds: pick(20, 5),
  /** Item 3: files synced through a source that fails this share of its requests. */
  faultFiles: pick(1000, 120),
  faultRate: 0.1,
  /** Item 4: fuzzed sync requests. */
  fuzzedRequests: pick(1000, 120),
  /** Item 7: files per connector in the three concurrent syncs. */
  replicaFiles: pick(200, 20),
};
