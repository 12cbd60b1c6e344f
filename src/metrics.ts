/**
 * Process-wide counters, served as Prometheus text on the health port's
 * /metrics. Small on purpose: what an operator needs to see the bridge's and
 * the worker's health at a glance.
 */
export class Counters {
  private readonly values = new Map<string, number>();

  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    const key = Counters.key(name, labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  /** A gauge: the value now (e.g. subscriptions active, read at each scrape). */
  set(name: string, labels: Record<string, string>, value: number): void {
    this.values.set(Counters.key(name, labels), value);
  }

  get(name: string, labels: Record<string, string> = {}): number {
    return this.values.get(Counters.key(name, labels)) ?? 0;
  }

  render(): string {
    return [...this.values.entries()]
      .sort(([a], [b]) => Counters.compareKeys(a, b))
      .map(([key, value]) => `${key} ${value}`)
      .join('\n')
      .concat('\n');
  }

  /**
   * By name, then labels, in code-point order: the lines of one metric stay together as the
   * exposition format requires (a plain string sort puts `a_total_x` between `a_total` and
   * `a_total{…}`), and the order does not depend on the process locale.
   */
  private static compareKeys(a: string, b: string): number {
    const [nameA, labelsA] = Counters.split(a);
    const [nameB, labelsB] = Counters.split(b);
    if (nameA !== nameB) return nameA < nameB ? -1 : 1;
    return labelsA < labelsB ? -1 : labelsA > labelsB ? 1 : 0;
  }

  private static split(key: string): [string, string] {
    const brace = key.indexOf('{');
    return brace === -1 ? [key, ''] : [key.slice(0, brace), key.slice(brace)];
  }

  private static key(name: string, labels: Record<string, string>): string {
    const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
    if (entries.length === 0) return name;
    return `${name}{${entries.map(([k, v]) => `${k}="${Counters.escape(v)}"`).join(',')}}`;
  }

  /** Prometheus label-value escaping; replacing the characters instead would merge distinct values into one series. */
  private static escape(value: string): string {
    return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  }
}

/**
 * The whole /metrics page: the Temporal runtime's Prometheus text (the SDK's
 * worker metrics, `temporal_*`, and the sync's, `connector_*`) followed by the
 * bridge's counters. The runtime's exporter listens on loopback only, so one
 * scrape target per replica is enough.
 */
export async function renderMetrics(counters: Counters, runtimeMetricsUrl?: string, timeoutMs = 2000): Promise<string> {
  if (!runtimeMetricsUrl) return counters.render();
  let runtime: string;
  try {
    const response = await fetch(runtimeMetricsUrl, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    runtime = await response.text();
  } catch (e) {
    runtime = `# the Temporal runtime's metrics are unavailable: ${e instanceof Error ? e.message : String(e)}\n`;
  }
  return `${runtime.endsWith('\n') || runtime === '' ? runtime : `${runtime}\n`}${counters.render()}`;
}
