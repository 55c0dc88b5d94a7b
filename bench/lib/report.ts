/** The report: a table on the terminal and JSON lines appended to bench/results/bench.jsonl. */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Machine } from './common.js';

export const RESULTS_FILE = path.join('bench', 'results', 'bench.jsonl');

export function appendJsonl(record: Record<string, unknown>): void {
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  appendFileSync(RESULTS_FILE, `${JSON.stringify(record)}\n`);
}

export type Cell = string | number | null | undefined;

const fmt = (v: Cell): string => {
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : String(v);
  return v;
};

/** A plain text table; numbers right-aligned. Also usable as Markdown (pipes). */
export function table(head: string[], rows: Cell[][]): string {
  const cells = rows.map((r) => r.map(fmt));
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[], isHead = false) =>
    `| ${r.map((c, i) => (isHead || typeof rows[0]?.[i] !== 'number' ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |`;
  return [line(head, true), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...cells.map((r) => line(r))].join('\n');
}

export function machineLine(m: Machine): string {
  return (
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}, commit ${m.commit}${m.dirty ? ' (+ uncommitted changes)' : ''}, ` +
    `load average at start ${m.loadAverage.join(' ')}, open files limit ${m.openFilesLimit}`
  );
}

export const ratio = (a: number | null | undefined, b: number | null | undefined): string =>
  a && b && Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}x` : '-';
