/**
 * The `replay-storm-100k` benchmark: a storm of a whole fleet (src/local/replay-storm.ts) through `npm run replay`'s
 * in-memory path, in a process of its own so that its peak RSS is the replay's alone. Run directly, this file is
 * that process: it replays the storm and prints its figures as one JSON line.
 */
import { fileURLToPath } from 'node:url';
import {
  type BenchOutcome,
  type ChildReplayFigures,
  childReplayFigures,
  figuresFromChildProcess,
  fmt,
  progress,
} from './support.js';

/** Issue 20: 100,000 devices in 3 minutes or less, in 2 GB or less. */
const SECONDS_BUDGET = 180;
const RSS_MB_BUDGET = 2_048;
/**
 * The heap the replay runs in, as `npm run replay` gives it: V8 lets a heap grow to about twice what is live before
 * it collects the old generation, and a 100,000-device storm holds about 700 MB live.
 */
const HEAP_MB = 1_536;

interface StormFigures extends ChildReplayFigures {
  alerts: number;
  hottestKey: { key: string; perSecond: number };
}

async function runStorm(devices: number): Promise<StormFigures> {
  const [{ quietForLocalRun }, { replayTrace }, { stormDifferences, stormTrace }] = await Promise.all([
    import('../src/adapters/observability.js'),
    import('../src/local/replay.js'),
    import('../src/local/replay-storm.js'),
  ]);
  quietForLocalRun({ logLevel: 'ERROR' });
  const { lines, expected } = stormTrace(devices);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const result = await replayTrace(lines, { accountWrites: true });
  const differences = stormDifferences(result, expected);
  return {
    ...childReplayFigures({ devices, lines: result.lines, differences }, started, cpu),
    alerts: result.alerts.length,
    hottestKey: result.writes?.hottestKey ?? { key: '', perSecond: 0 },
  };
}

export async function benchReplayStorm(devices: number): Promise<BenchOutcome> {
  progress(
    `replay-storm-100k: ${devices} devices connect, 70% drop within 30 s, 95% of those back 10 min later`,
  );
  const figures = await figuresFromChildProcess<StormFigures>(import.meta.url, devices, HEAP_MB);
  const fastEnough = figures.seconds <= SECONDS_BUDGET;
  const smallEnough = figures.peakRssMb <= RSS_MB_BUDGET;
  return {
    figures: { ...figures, secondsBudget: SECONDS_BUDGET, peakRssMbBudget: RSS_MB_BUDGET },
    summary: [
      `${figures.devices} devices, ${figures.lines} lines in ${fmt(figures.seconds, 1)} s (budget ${SECONDS_BUDGET} s; ${fmt(figures.cpuSeconds, 1)} s of CPU), peak RSS ${figures.peakRssMb} MB (budget ${RSS_MB_BUDGET})`,
      `exact (device states, GET /fleet, one fleet-outage, one fleet-recovered): ${figures.exact ? 'yes' : `NO: ${figures.differences.join('; ')}`}`,
    ],
    ratio: Math.round((figures.seconds / SECONDS_BUDGET) * 1000) / 1000,
    ratioMeaning: 'replay seconds ÷ 180 s',
    budget: `<= ${SECONDS_BUDGET} s, peak RSS <= ${RSS_MB_BUDGET} MB, exact`,
    pass: fastEnough && smallEnough && figures.exact,
    notes: [
      'in a process of its own (node --import tsx): peakRssMb is its maxRSS, trace included; seconds is the replay alone',
      'the machine is shared: seconds vary with its load; the line and alert counts do not',
    ],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const figures = await runStorm(Number(process.argv[2] ?? 100_000));
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}
