import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readmeSection } from '../../bench/docs-sections.js';
import { type RecordedEntry, type RunRecord, readResults, recordResults } from '../../bench/results.js';

const entry = (name: string, durationMs: number, mode: 'quick' | 'full' = 'quick'): RecordedEntry => ({
  name,
  mode,
  durationMs,
  cpuMs: durationMs / 2,
  treeCpuMs: durationMs,
  figures: {},
  ratio: 1,
  ratioMeaning: '',
  budget: '',
  pass: true,
  notes: [],
});

const run = (entries: string[], wallSeconds: number): RunRecord => ({
  startedAt: `2026-12-05T00:00:${String(wallSeconds % 60).padStart(2, '0')}.000Z`,
  entries,
  wallSeconds,
  cpuMs: 1,
  treeCpuMs: 2,
  node: 'v20',
});

describe('bench/results.json', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-results-'));
    path = join(dir, 'results.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the other entries and the last complete run when some entries run again', async () => {
    await recordResults('quick', entry('ingest', 10), undefined, true, path);
    await recordResults('quick', entry('uptime', 20), run(['ingest', 'uptime'], 30), true, path);
    await recordResults('quick', entry('uptime', 5), run(['uptime'], 6), false, path);
    const quick = (await readResults(path)).quick;
    expect(quick?.entries.map((e) => [e.name, e.durationMs])).toEqual([
      ['ingest', 10],
      ['uptime', 5],
    ]);
    expect(quick?.completeRun?.wallSeconds).toBe(30);
    expect(quick?.lastRun?.wallSeconds).toBe(6);
  });

  it('keeps the quick and the full results apart, each entry in the order the bench runs them', async () => {
    await recordResults('full', entry('accuracy', 3, 'full'), undefined, true, path);
    await recordResults('full', entry('ingest', 1, 'full'), undefined, true, path);
    await recordResults('quick', entry('reconcile', 2), undefined, true, path);
    const document = await readResults(path);
    expect(document.full?.entries.map((e) => e.name)).toEqual(['ingest', 'accuracy']);
    expect(document.quick?.entries.map((e) => e.name)).toEqual(['reconcile']);
  });

  it('reads the earlier format, a list of entries that each name their mode', async () => {
    await writeFile(path, JSON.stringify([entry('ingest', 1), entry('replay', 2, 'full')]));
    await recordResults('quick', entry('uptime', 3), undefined, false, path);
    const document = JSON.parse(await readFile(path, 'utf8'));
    expect(document.quick.entries.map((e: RecordedEntry) => e.name)).toEqual(['ingest', 'uptime']);
    expect(document.full.entries.map((e: RecordedEntry) => e.name)).toEqual(['replay']);
  });
});

describe("the README's bench line", () => {
  it("gives each mode's last run of every entry against its budget, and how many entries were within theirs", () => {
    const quickRun = { ...run(['ingest', 'uptime'], 150), budgetSeconds: 180, withinBudget: true };
    const line = readmeSection({
      quick: {
        completeRun: quickRun,
        lastRun: { ...run(['uptime'], 9), budgetSeconds: 180 },
        entries: [entry('ingest', 10), { ...entry('uptime', 20), pass: false }],
      },
    });
    expect(line).toContain('quick **150 s** (budget 180 s, 1 of 2 entries within theirs)');
    expect(line).toContain('full not run yet (budget 720 s)');
    expect(line.startsWith('<!-- bench-run:start -->')).toBe(true);
    expect(line.endsWith('<!-- bench-run:end -->')).toBe(true);
  });
});
