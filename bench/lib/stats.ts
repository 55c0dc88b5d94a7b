/** Latency percentiles over every recorded delivery. */
export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Joins the samples of every generator process and summarizes them (ms, rounded to 0.1). */
export function summarize(parts: Float64Array[]): Latency {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const all = new Float64Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  all.sort();
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    p50: r(percentile(all, 50)),
    p90: r(percentile(all, 90)),
    p99: r(percentile(all, 99)),
    p999: r(percentile(all, 99.9)),
    max: r(n ? all[n - 1]! : NaN),
  };
}
