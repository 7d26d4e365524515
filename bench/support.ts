/** Small helpers shared by the benchmarks: statistics, timing, formatting and the result shape. */

export interface BenchResult {
  name: string;
  /** What was measured, in plain units (machine-readable; written to bench/results.json). */
  figures: Record<string, unknown>;
  /** The figures in a few short lines for the printed table. */
  summary: string[];
  /** The budgeted ratio, measured against a baseline of the same run (or the budget itself where noted). */
  ratio: number | null;
  /** What `ratio` divides by what. */
  ratioMeaning: string;
  budget: string;
  pass: boolean;
  durationMs: number;
  notes: string[];
  /** Set when the benchmark crashed instead of measuring. */
  error?: string;
}

export type BenchOutcome = Omit<BenchResult, 'name' | 'durationMs'>;

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Rounds for display and for the JSON file (keeps results.json readable). */
export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  return round(value, digits).toLocaleString('en-US', { maximumFractionDigits: digits });
}

export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Progress goes to stderr so that stdout carries only the table. */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** A plain-text table whose cells may hold several lines. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const cellLines = rows.map((row) => row.map((cell) => cell.split('\n')));
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...cellLines.flatMap((row) => (row[column] ?? []).map((line) => line.length))),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  const separator = `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`;
  const out = [line(headers), separator];
  for (const row of cellLines) {
    const height = Math.max(...row.map((cell) => cell.length));
    for (let i = 0; i < height; i += 1) out.push(line(row.map((cell) => cell[i] ?? '')));
  }
  return out.join('\n');
}
