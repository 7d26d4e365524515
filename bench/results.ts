/**
 * bench/results.json: the last result of every entry in each mode (quick and full), and how long the last runs took.
 * A run of some entries replaces theirs and keeps the others'. docs/performance.md is rendered from this file
 * (`npm run bench:docs`), so that no figure there is copied by hand.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './support.js';

export type BenchMode = 'quick' | 'full';

/** The entries in the order they run. */
export const BENCH_ORDER = [
  'ingest',
  'reconcile',
  'alerts',
  'status-api',
  'fleet-alerts',
  'uptime',
  'end-to-end',
  'end-to-end-fleet',
  'cold-start',
  'replay',
  'replay-storm-100k',
  'scale',
  'accuracy',
] as const;

/** How long a run of every entry may take on the 2-core machine the budgets are set for (issue 25). */
export const RUN_BUDGET_SECONDS: Record<BenchMode, number> = { quick: 180, full: 720 };

export type RecordedEntry = Omit<BenchResult, 'summary'> & { mode: BenchMode };

export interface RunRecord {
  startedAt: string;
  entries: string[];
  wallSeconds: number;
  /** CPU time of the bench's own process. */
  cpuMs: number;
  /** CPU time of the bench's process and every process it started (DynamoDB Local, packaging, imports). */
  treeCpuMs: number | null;
  node: string;
  /** RUN_BUDGET_SECONDS of the mode; it applies to a run of every entry. */
  budgetSeconds?: number;
  /** A run of every entry: whether its wall time was within budgetSeconds (absent for a run of some entries). */
  withinBudget?: boolean;
}

export interface ModeResults {
  /** The last run of every entry. */
  completeRun?: RunRecord;
  /** The last run, of every entry or of some. */
  lastRun?: RunRecord;
  entries: RecordedEntry[];
}

export type ResultsDocument = Partial<Record<BenchMode, ModeResults>>;

export const resultsPath = fileURLToPath(new URL('./results.json', import.meta.url));

export async function readResults(path = resultsPath): Promise<ResultsDocument> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return {};
  const parsed = JSON.parse(text) as unknown;
  // The format before runs were recorded: a list of entries, each naming its mode.
  if (Array.isArray(parsed)) {
    const document: ResultsDocument = {};
    for (const entry of parsed as RecordedEntry[]) {
      const mode = entry.mode === 'quick' ? 'quick' : 'full';
      document[mode] = { entries: [...(document[mode]?.entries ?? []), entry] };
    }
    return document;
  }
  return parsed as ResultsDocument;
}

const byOrder = (a: { name: string }, b: { name: string }) =>
  BENCH_ORDER.indexOf(a.name as (typeof BENCH_ORDER)[number]) -
  BENCH_ORDER.indexOf(b.name as (typeof BENCH_ORDER)[number]);

/** Records an entry's result and/or a finished run (`complete`: a run of every entry), keeping everything else. */
export async function recordResults(
  mode: BenchMode,
  entry: RecordedEntry | undefined,
  run: RunRecord | undefined,
  complete: boolean,
  path = resultsPath,
): Promise<void> {
  const document = await readResults(path);
  const current = document[mode] ?? { entries: [] };
  const entries = entry
    ? [...current.entries.filter((e) => e.name !== entry.name), entry].sort(byOrder)
    : current.entries;
  document[mode] = {
    ...current,
    ...(run ? { lastRun: run } : {}),
    ...(run && complete ? { completeRun: run } : {}),
    entries,
  };
  const ordered: ResultsDocument = {
    ...(document.quick ? { quick: document.quick } : {}),
    ...(document.full ? { full: document.full } : {}),
  };
  // Written whole, then renamed: a run stopped while writing leaves the previous file.
  await writeFile(`${path}.tmp`, `${JSON.stringify(ordered, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
