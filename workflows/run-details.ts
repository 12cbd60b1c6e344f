import { setCurrentDetails } from '@temporalio/workflow';
import type { ThrottleTally } from '../src/telemetry/throttle-tally.js';
import { sourceLabel, TASK_PRIORITY_KEY, type SyncCarry, type SyncPhase, type SyncTotals } from './definitions.js';
import type { ControlState } from './controls.js';

/**
 * The live line of a run, shown by the Temporal Web UI (and `temporal workflow
 * metadata`) as the run's current details: which run of the sync this is, its
 * phase and page, counts so far, bytes, throttle waits, and what operators asked.
 * Deterministic code only.
 */

export interface RunView {
  connectorId: number;
  phase: SyncPhase;
  inFlight: number;
  carry: SyncCarry;
  controls: ControlState;
  /** Requests for another pass during this run, by who asked (`push`: a change notification). */
  requestedBy?: Record<string, number>;
}

/** "OneDrive sync of connector 7 · Marketing files": the words of the bridge's static summary (src/bridge/run-description.ts). */
export function runTitle(connectorId: number, connectorType: string, name?: string): string {
  const trimmed = name?.trim();
  return `${sourceLabel(connectorType)} sync of connector ${connectorId}${trimmed ? ` · ${trimmed}` : ''}`;
}

const clock = (iso: string): string => `${iso.slice(11, 19)} UTC`;
const when = (iso: string): string => `${iso.slice(0, 10)} ${clock(iso)}`;

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function whichRun(carry: SyncCarry): string {
  const started = `started by ${carry.trigger ?? 'an unknown trigger'} at ${when(carry.startedAt)}`;
  if (carry.runs <= 1) return `**Run 1 of this sync**, ${started}`;
  return `**Run ${carry.runs} of this sync** (continued as new; the sync was ${started})`;
}

function phaseLine(view: RunView): string {
  const page = view.carry.totals.pages;
  switch (view.phase) {
    case 'listing':
      return `listing page ${page + 1}`;
    case 'transferring':
      return `transferring page ${page}${view.inFlight ? ` (${view.inFlight} in flight)` : ''}`;
    case 'committing':
      return `saving the cursor after page ${page}`;
    case 'paused': {
      const at = view.controls.pausedAt;
      const why = view.controls.pauseRequested ?? 'paused by an operator';
      return at ? `paused after page ${at.page} since ${clock(at.since)}, cursor saved (${why})` : 'paused';
    }
    case 'retrying failed files':
      return `retrying failed files${view.inFlight ? ` (${view.inFlight} in flight)` : ''}`;
    default:
      return view.phase;
  }
}

function countsLine(t: SyncTotals): string {
  return [
    `${t.new} new`,
    `${t.updated} updated`,
    `${t.unchanged} unchanged`,
    `${t.deleted} deleted`,
    `${t.failed} failed`,
    `${formatBytes(t.bytes)} stored`,
  ].join(' · ');
}

function throttleLine(throttle: ThrottleTally | undefined): string {
  if (!throttle || throttle.waits === 0) return '**Throttled:** not so far';
  const seconds = Math.ceil(throttle.waitedMs / 1000);
  return `**Throttled:** ${throttle.waits} wait${throttle.waits === 1 ? '' : 's'} (${seconds} s in all)${throttle.until ? `, the last until ${clock(throttle.until)}` : ''}`;
}

/** Where the sync's tasks stand on the task queue: "**Priority:** backfill, after incremental syncs (task priority 4)". */
function priorityLines(carry: SyncCarry): string[] {
  switch (carry.priority) {
    case 'interactive':
      return [`**Priority:** incremental, ahead of backfills (task priority ${TASK_PRIORITY_KEY.interactive})`];
    case 'backfill':
      return [`**Priority:** backfill, after incremental syncs (task priority ${TASK_PRIORITY_KEY.backfill})`];
    default:
      return [];
  }
}

/** "**Asked again during this run:** 3 times by push, once by orchestrator". */
function requestLines(requestedBy: Record<string, number> | undefined): string[] {
  const asked = Object.entries(requestedBy ?? {}).map(([who, n]) => `${n === 1 ? 'once' : `${n} times`} by ${who}`);
  return asked.length ? [`**Asked again during this run:** ${asked.join(', ')}`] : [];
}

function controlLines(controls: ControlState): string[] {
  const lines: string[] = [];
  const asked: string[] = [];
  if (controls.pauseRequested !== undefined && !controls.pausedAt) asked.push('a pause at the next page boundary');
  if (controls.fullResyncRequested) asked.push('a full resync from the next page boundary');
  if (controls.retryFailedRequested) {
    asked.push(controls.retryFailedRequested === 'all' ? 'a retry of every failed file' : `a retry of ${controls.retryFailedRequested.length} failed file(s)`);
  }
  if (asked.length) lines.push(`**Asked:** ${asked.join('; ')}`);
  return lines;
}

/** The run's current details (Temporal Markdown, one fact per line). */
export function describeProgress(view: RunView): string {
  // Live facts first: the Web UI shows current details in a short frame (the rest scrolls).
  const lines = [
    `**Now:** ${phaseLine(view)}`,
    `**So far:** ${countsLine(view.carry.totals)}`,
    throttleLine(view.carry.throttle),
    // A continued run has no static summary (see sync-connector.ts): its details carry the title.
    ...(view.carry.title && view.carry.runs > 1 ? [`**${view.carry.title}**`] : []),
    whichRun(view.carry),
    ...priorityLines(view.carry),
    ...requestLines(view.requestedBy),
    ...controlLines(view.controls),
  ];
  // Hard line breaks, not paragraphs: the Web UI shows current details in a short frame.
  return lines.join('  \n');
}

export function showProgress(view: RunView): void {
  setCurrentDetails(describeProgress(view));
}

/** Adds what one activity reported to the run's throttle tally. */
export function addThrottle(carry: SyncCarry, report: ThrottleTally | undefined): void {
  if (!report || report.waits === 0) return;
  const tally = (carry.throttle ??= { waits: 0, waitedMs: 0 });
  tally.waits += report.waits;
  tally.waitedMs += report.waitedMs;
  if (report.until && (!tally.until || report.until > tally.until)) tally.until = report.until;
}

/** The throttle report an activity's result carries, if any (added by the worker's activity interceptor). */
export function throttleOf(result: unknown): ThrottleTally | undefined {
  const t = (result as { throttle?: ThrottleTally } | null | undefined)?.throttle;
  return t && typeof t.waits === 'number' ? t : undefined;
}
