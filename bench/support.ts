/** Small helpers shared by the benchmarks: statistics, timing, formatting and the result shape. */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
  /** Wall time of the entry; on a machine shared with other jobs it reads high (see cpuMs). */
  durationMs: number;
  /** CPU time of the bench's process during the entry. */
  cpuMs: number;
  /** CPU time of the bench's process and of every process it started, during the entry (null without /proc). */
  treeCpuMs: number | null;
  notes: string[];
  /** Set when the benchmark crashed instead of measuring. */
  error?: string;
}

export type BenchOutcome = Omit<BenchResult, 'name' | 'durationMs' | 'cpuMs' | 'treeCpuMs'>;

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

/** CPU time so far, in milliseconds: this process, and this process with every process it started. */
export interface CpuSample {
  ownMs: number;
  /** With the children (DynamoDB Local's JVM, packaging, fresh-process imports); null where /proc is missing. */
  treeMs: number | null;
}

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * The CPU time of this process and of its descendants, live ones read from /proc/<pid>/stat and finished ones from
 * the children's times their parents collected. Wall time on a machine shared with other jobs reads high; this does
 * not.
 */
export function cpuSample(): CpuSample {
  const { user, system } = process.cpuUsage();
  return { ownMs: (user + system) / 1000, treeMs: processTreeCpuMs(process.pid) };
}

function processTreeCpuMs(root: number): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const name of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // The command name may hold spaces and parentheses: the fields that follow it start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(name);
    const parent = Number(fields[1]);
    // utime, stime, cutime, cstime: fields 14 to 17 of the line, 11 to 14 after the name.
    const used = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
    ticks.set(pid, used);
    children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  if (!ticks.has(root)) return null;
  let total = 0;
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    total += ticks.get(pid) ?? 0;
    pending.push(...(children.get(pid) ?? []));
  }
  return (total * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** What a storm replayed in a process of its own reports, whatever else its entry adds. */
export interface ChildReplayFigures {
  devices: number;
  lines: number;
  seconds: number;
  /** CPU seconds of the replay: what a shared machine's load does not stretch. */
  cpuSeconds: number;
  peakRssMb: number;
  exact: boolean;
  differences: string[];
}

/** The figures of a replay in this process that started at `started` (performance.now()) with CPU usage `cpu`. */
export function childReplayFigures(
  run: { devices: number; lines: number; differences: string[] },
  started: number,
  cpu: NodeJS.CpuUsage,
): ChildReplayFigures {
  const { user, system } = process.cpuUsage(cpu);
  return {
    ...run,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    cpuSeconds: Math.round((user + system) / 100_000) / 10,
    // maxRSS is in kilobytes.
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    exact: run.differences.length === 0,
  };
}

/**
 * Runs a bench module as a process of its own (so that its peak RSS is its own), with `heapMb` of heap and
 * `devices` (or these arguments) as its argument, and reads the figures it prints as its last line of JSON.
 */
export function figuresFromChildProcess<T>(
  moduleUrl: string,
  devices: number | readonly string[],
  heapMb: number,
): Promise<T> {
  const args = typeof devices === 'number' ? [String(devices)] : devices;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [`--max-old-space-size=${heapMb}`, '--import', 'tsx', fileURLToPath(moduleUrl), ...args],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${fileURLToPath(moduleUrl)} exited with ${code}`));
      else resolve(JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as T);
    });
  });
}
