/** The benchmark's result shapes and the Markdown tables bench/README.md holds. */

export interface SideReport {
  wallSeconds: number;
  filesPerSecond: number;
  mibPerSecond: number;
  sourceRequests: number;
  sourceRequestsPerFile: number;
  downloads: number;
  /** CPU seconds of each process over the sync (utime+stime from /proc, process trees). */
  cpuSeconds: Record<string, number>;
  cpuMsPerFile: Record<string, number>;
  workerPeakRssMiB?: number;
  /** Baseline side: the baseline script's own peak RSS over its sync (VmHWM, reset before it). */
  peakRssMiB?: number;
  workerRssBeforeMiB?: number;
  workerRssAfterMiB?: number;
  historyEvents?: number;
  workflowRuns?: number;
  maxEventsPerRun?: number;
  historyEventsPerFile?: number;
  outcome?: string;
  message?: string;
}

export interface ScenarioReport {
  key: string;
  title: string;
  files: number;
  bytes: number;
  baseline: SideReport;
  service: SideReport;
  /**
   * filesPerSecond: service throughput over the baseline's (same files and bytes, so the ratio of
   * wall times); cpuPerFile: the service's CPU (every process) over the baseline's, for the same
   * files, absent without a baseline or where the baseline did no measurable work.
   */
  ratio: { filesPerSecond: number; cpuPerFile?: number };
  problems: string[];
}

export interface BenchResults {
  date: string;
  commit: string;
  label: string;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  serviceStart: { seconds: number; rssMiB: number; peakRssMiB: number };
  workerPeakRssOverallMiB: number;
  scenarios: ScenarioReport[];
  /** With --rounds: (a)'s CPU ratio in each round and their median. */
  cpuRatioOfA?: { rounds: number[]; median: number };
}

const CPU_COLUMNS = ['worker', 'temporal', 'postgres', 'nats', 's3', 'emulator'] as const;

const fmt = (n: number | undefined, digits = 1) => (n === undefined ? '–' : n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

export function markdownTable(r: BenchResults): string {
  // A --service-only run has no baseline: its rows and ratios would divide by nothing.
  const withBaseline = r.settings.serviceOnly !== true;
  const lines = [
    `Commit ${r.commit.slice(0, 10)} (${r.label}), ${r.date.slice(0, 16).replace('T', ' ')} UTC; service start ${r.serviceStart.seconds} s to first poll, ` +
      `RSS ${r.serviceStart.rssMiB} MiB after start (peak ${r.serviceStart.peakRssMiB} MiB); worker peak over the run ${r.workerPeakRssOverallMiB} MiB.`,
    '',
    '| scenario | side | wall s | files/s | MiB/s | ratio | peak RSS MiB (worker; baseline script) | events/file (max per run) | source req/file | downloads |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of r.scenarios) {
    if (withBaseline) {
      lines.push(
        `| ${s.key}: ${s.title} | baseline | ${fmt(s.baseline.wallSeconds, 2)} | ${fmt(s.baseline.filesPerSecond)} | ${fmt(s.baseline.mibPerSecond)} | 1 | ${fmt(s.baseline.peakRssMiB, 0)} | – | ${fmt(s.baseline.sourceRequestsPerFile, 2)} | ${s.baseline.downloads} |`,
      );
    }
    lines.push(
      `| ${withBaseline ? '' : `${s.key}: ${s.title}`} | service | ${fmt(s.service.wallSeconds, 2)} | ${fmt(s.service.filesPerSecond)} | ${fmt(s.service.mibPerSecond)} | ${withBaseline ? `**${fmt(s.ratio.filesPerSecond, 2)}**` : '–'} | ${fmt(s.service.workerPeakRssMiB, 0)} | ${fmt(s.service.historyEventsPerFile, 2)} (${s.service.maxEventsPerRun ?? '–'}) | ${fmt(s.service.sourceRequestsPerFile, 2)} | ${s.service.downloads} |`,
    );
  }
  lines.push(
    '',
    'CPU milliseconds per file, per process (utime+stime from /proc; "worker" is the baseline script in baseline rows):',
    '',
    `| scenario | side | ${CPU_COLUMNS.join(' | ')} | total | ratio |`,
    `|---|---|${CPU_COLUMNS.map(() => '---').join('|')}|---|---|`,
  );
  for (const s of r.scenarios) {
    const sides = [
      ['baseline', s.baseline],
      ['service', s.service],
    ] as const;
    for (const [name, sideReport] of withBaseline ? sides : sides.slice(1)) {
      const per = CPU_COLUMNS.map((c) => sideReport.cpuMsPerFile[c === 'worker' && name === 'baseline' ? 'baseline' : c] ?? 0);
      const ratio = name === 'baseline' ? '1' : s.ratio.cpuPerFile === undefined ? '–' : `**${fmt(s.ratio.cpuPerFile, 2)}**`;
      lines.push(`| ${name === 'baseline' || !withBaseline ? `${s.key}` : ''} | ${name} | ${per.map((v) => fmt(v, 2)).join(' | ')} | ${fmt(per.reduce((a, b) => a + b, 0), 2)} | ${ratio} |`);
    }
  }
  if (r.cpuRatioOfA) lines.push('', `CPU ratio of (a) in ${r.cpuRatioOfA.rounds.length} rounds: ${r.cpuRatioOfA.rounds.map((x) => fmt(x, 2)).join(', ')}; median **${fmt(r.cpuRatioOfA.median, 2)}**.`);
  const problems = r.scenarios.flatMap((s) => s.problems.map((p) => `${s.key}: ${p}`));
  if (problems.length) lines.push('', `Problems: ${problems.join('; ')}`);
  return lines.join('\n');
}
