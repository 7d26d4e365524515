/**
 * `npm run bench [-- --quick]`: the performance budgets of GitHub issue 4, measured in one run against DynamoDB Local
 * and the SNS/SQS emulator on loopback. Prints a table on stdout (progress on stderr) and writes bench/results.json.
 * Exit code 0 whether budgets pass or not; non-zero only when a benchmark crashed.
 */
import './quiet.js';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { quietForLocalRun } from '../src/adapters/observability.js';
import type { FleetProfile } from '../test/fixtures/aws-model/index.js';
import { benchAccuracy } from './accuracy.js';
import { benchAlerts } from './alerts.js';
import { benchColdStart } from './cold-start.js';
import { benchEndToEnd } from './end-to-end.js';
import { benchFleetAlerts } from './fleet-alerts.js';
import { benchIngest } from './ingest.js';
import { benchReconcile } from './reconcile.js';
import { benchReplay } from './replay.js';
import { benchReplayStorm } from './replay-storm.js';
import { type BenchStack, startBenchStack } from './stack.js';
import { benchStatusApi } from './status-api.js';
import { type BenchOutcome, type BenchResult, fmt, progress, renderTable, timed } from './support.js';
import { benchUptime } from './uptime.js';

// Metrics are disabled (quiet.ts), but Powertools still warns after each invocation that had none to publish:
// silenced, as in every local run.
quietForLocalRun({ logLevel: 'ERROR' });

const quick = process.argv.includes('--quick');
/** `npm run bench -- replay accuracy`: only the entries named (their results replace those in results.json). */
const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const wanted = (name: string) => only.length === 0 || only.includes(name);

const SIZES = quick
  ? {
      ingest: { rounds: 5, eventsPerRound: 300, warmupEvents: 400, concurrency: 16 },
      reconcile: { fleets: [1_000, 5_000, 20_000], pendingDevices: 100 },
      alerts: { devices: 50, concurrentReconcilers: 8 },
      status: { gets: 200, pages: 60 },
      fleetAlerts: { devices: 40, fleetGets: 20 },
      uptime: { days: 3, takeoversPerDay: 200 },
      coldStart: { runs: 3 },
      replay: { devices: 18, hours: 24 },
      replayStorm: { devices: 20_000 },
      endToEnd: { devices: 8, hours: 6 },
      accuracy: { devices: 6, hours: 2, profiles: ['mixed', 'fights', 'persistent'] as FleetProfile[] },
    }
  : {
      ingest: { rounds: 10, eventsPerRound: 1_000, warmupEvents: 1_500, concurrency: 16 },
      reconcile: { fleets: [1_000, 10_000, 100_000], pendingDevices: 100 },
      alerts: { devices: 50, concurrentReconcilers: 8 },
      status: { gets: 500, pages: 200 },
      fleetAlerts: { devices: 100, fleetGets: 50 },
      uptime: { days: 10, takeoversPerDay: 400 },
      coldStart: { runs: 9 },
      // A generated day of 10,195 lines (issue 9's budget is set on a 10,000-line day).
      replay: { devices: 41, hours: 24 },
      replayStorm: { devices: 100_000 },
      endToEnd: { devices: 20, hours: 12 },
      accuracy: { devices: 12, hours: 4 },
    };

async function measure(name: string, run: () => Promise<BenchOutcome>): Promise<BenchResult | undefined> {
  if (!wanted(name)) return undefined;
  progress(`${name}: start`);
  try {
    const { value, ms } = await timed(run);
    progress(`${name}: ${value.pass ? 'within budget' : 'OVER BUDGET'} (${fmt(ms / 1000, 1)} s)`);
    return { name, durationMs: Math.round(ms), ...value };
  } catch (error) {
    progress(`${name}: CRASHED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return {
      name,
      durationMs: 0,
      figures: {},
      summary: ['crashed (see error)'],
      ratio: null,
      ratioMeaning: '',
      budget: '',
      pass: false,
      notes: [],
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/** Thrown to skip the shared stack when none of the entries that use it was asked for. */
class SkipSharedStack extends Error {}

async function main(): Promise<number> {
  const started = performance.now();
  const measured: Array<BenchResult | undefined> = [];
  let stack: BenchStack | undefined;
  let stopping: Promise<void> | undefined;
  const stopStack = () => {
    stopping ??= stack ? stack.stop().catch(() => undefined) : Promise.resolve();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping the services`);
    void stopStack().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    if (!['ingest', 'reconcile', 'alerts', 'status-api', 'fleet-alerts', 'uptime', 'replay'].some(wanted)) {
      throw new SkipSharedStack();
    }
    progress(`mode: ${quick ? 'quick' : 'full'}; starting DynamoDB Local and the SNS/SQS emulator`);
    stack = await startBenchStack();
    const running = stack;
    measured.push(await measure('ingest', () => benchIngest(running, SIZES.ingest)));
    measured.push(await measure('reconcile', () => benchReconcile(running, SIZES.reconcile)));
    measured.push(await measure('alerts', () => benchAlerts(running, SIZES.alerts)));
    const fleet = Math.max(...SIZES.reconcile.fleets);
    measured.push(
      await measure('status-api', () =>
        benchStatusApi(running, {
          ...SIZES.status,
          fleet,
          deviceIds: (index) => `idle-${String(index).padStart(7, '0')}`,
        }),
      ),
    );
    measured.push(await measure('fleet-alerts', () => benchFleetAlerts(running, SIZES.fleetAlerts)));
    measured.push(await measure('uptime', () => benchUptime(running, SIZES.uptime)));
  } catch (error) {
    if (!(error instanceof SkipSharedStack)) throw error;
  } finally {
    await stopStack();
    stack = undefined;
  }
  // On a stack of its own: the runtime it creates reads the events stream from its start, and the other benchmarks'
  // events must not be counted as this fleet's.
  measured.push(
    await measure('end-to-end', async () => {
      const own = await startBenchStack();
      try {
        return await benchEndToEnd(own, SIZES.endToEnd);
      } finally {
        await own.stop();
      }
    }),
  );
  measured.push(await measure('cold-start', () => benchColdStart(SIZES.coldStart)));
  measured.push(await measure('replay', () => benchReplay(SIZES.replay)));
  measured.push(await measure('replay-storm-100k', () => benchReplayStorm(SIZES.replayStorm.devices)));
  measured.push(await measure('accuracy', () => benchAccuracy(SIZES.accuracy)));

  const totalSeconds = (performance.now() - started) / 1000;
  const results = measured.filter((result): result is BenchResult => result !== undefined);
  const output = fileURLToPath(new URL('./results.json', import.meta.url));
  const fresh = results.map(({ summary: _summary, ...result }) => ({
    ...result,
    mode: quick ? 'quick' : 'full',
  }));
  // A run of some entries keeps the others' last results.
  const kept =
    only.length === 0
      ? []
      : ((JSON.parse(await readFile(output, 'utf8').catch(() => '[]')) as Array<{ name: string }>).filter(
          (entry) => !only.includes(entry.name),
        ) as unknown as typeof fresh);
  const order = [
    'ingest',
    'reconcile',
    'alerts',
    'status-api',
    'fleet-alerts',
    'uptime',
    'end-to-end',
    'cold-start',
    'replay',
    'replay-storm-100k',
    'accuracy',
  ];
  const document = [...kept, ...fresh].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  await writeFile(output, `${JSON.stringify(document, null, 2)}\n`);

  const table = renderTable(
    ['name', 'figures', 'ratio', 'budget', 'pass'],
    results.map((r) => [
      r.name,
      r.summary.join('\n'),
      r.ratio === null ? '-' : fmt(r.ratio, 3),
      r.budget,
      r.error ? 'CRASH' : r.pass ? 'yes' : 'NO',
    ]),
  );
  process.stdout.write(
    `\niot-presence benchmarks (${quick ? 'quick' : 'full'}), ${fmt(totalSeconds, 0)} s\n\n${table}\n`,
  );
  const failing = results.filter((r) => !r.pass && !r.error);
  if (failing.length > 0) process.stdout.write(`\nover budget: ${failing.map((r) => r.name).join(', ')}\n`);
  process.stdout.write(`results: ${output}\n`);
  return results.some((r) => r.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
