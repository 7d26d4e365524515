/**
 * The `scale` benchmark: a storm of 100,000 devices on the in-memory replay (src/local/replay-storm.ts with every
 * dropped device coming back), its ingest throttled as Lambda throttles asynchronous invocations
 * (src/local/lambda/async-throttle.ts): deliveries come late and out of order. It reports how hot the hottest key
 * runs, how many transactions one item takes in a second, and how many reconcile invocations the events stream runs
 * at once as deployed. Run directly, this file is the replay's own process: it prints its figures as one JSON line.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AsyncThrottleSettings, ThrottleFigures } from '../src/local/lambda/async-throttle.js';
import {
  type BenchOutcome,
  type ChildReplayFigures,
  childReplayFigures,
  figuresFromChildProcess,
  fmt,
  progress,
} from './support.js';

/** Issue 24: half of one partition's 1,000 write units a second; transactions on one item. */
const HOT_KEY_BUDGET = 500;
const TRANSACTIONS_BUDGET = 50;
const HEAP_MB = 1_536;
const FULL_DEVICES = 100_000;
/**
 * The throttle of a 100,000-device fleet: ingestPresence at a reserved concurrency of 25 (what keeps a storm from
 * taking the account's default 1,000), 25 ms an invocation (one conditional PutItem): 1,000 invocations a second,
 * under the storm's 2,333 drops a second. Smaller storms scale the concurrency down with the fleet, so that they are
 * throttled as much.
 */
const FULL_CONCURRENCY = 25;
const INVOCATION_MS = 25;
/** Lambda's default for a function that a stream mapping does not set: one batch per shard at a time. */
const DEFAULT_PARALLELIZATION = 1;
/** A new on-demand table's warm throughput is 4,000 write units a second: four partitions of 1,000, four shards. */
const MIN_SHARDS = 4;
const PARTITION_WRITES_PER_SECOND = 1_000;
/** reconcile-events.ts reconciles up to 8 devices of a batch at once. */
const DEVICES_AT_ONCE_PER_BATCH = 8;

interface ScaleFigures extends ChildReplayFigures {
  hottestKey: string;
  hottestKeyWritesPerSecond: number;
  transactionItem: string;
  transactionsOnOneItemPerSecond: number;
  throttle: AsyncThrottleSettings;
  throttled: ThrottleFigures;
}

function throttleFor(devices: number): AsyncThrottleSettings {
  return {
    concurrency: Math.max(1, Math.round((FULL_CONCURRENCY * devices) / FULL_DEVICES)),
    invocationMs: INVOCATION_MS,
  };
}

async function runScale(devices: number): Promise<ScaleFigures> {
  const [{ quietForLocalRun }, { replayTrace }, { stormDifferences, stormTrace }] = await Promise.all([
    import('../src/adapters/observability.js'),
    import('../src/local/replay.js'),
    import('../src/local/replay-storm.js'),
  ]);
  quietForLocalRun({ logLevel: 'ERROR' });
  const { lines, expected } = stormTrace(devices, { allBack: true });
  const throttle = throttleFor(devices);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const result = await replayTrace(lines, { ingestThrottle: throttle, accountWrites: true });
  const differences = stormDifferences(result, expected);
  const hottest = result.writes?.hottestKey ?? { key: '', perSecond: 0 };
  const transactions = result.writes?.hottestTransactionItem ?? { key: '', perSecond: 0 };
  const presence = result.throttles?.ingestPresence;
  if (!presence) throw new Error('the replay did not throttle ingestPresence');
  return {
    ...childReplayFigures({ devices, lines: result.lines, differences }, started, cpu),
    hottestKey: hottest.key,
    hottestKeyWritesPerSecond: hottest.perSecond,
    transactionItem: transactions.key,
    transactionsOnOneItemPerSecond: transactions.perSecond,
    throttle,
    throttled: presence,
  };
}

/** serverless.yml's settings of reconcileEvents's stream mapping (parallelizationFactor: Lambda's default of 1). */
function reconcileStreamSettings(yaml: string) {
  const block = yaml.slice(yaml.indexOf('\n  reconcileEvents:'), yaml.indexOf('\n  countFleet:'));
  const setting = (name: string) => {
    const match = new RegExp(`\\n\\s+${name}: (\\d+)`).exec(block);
    return match ? Number(match[1]) : undefined;
  };
  return {
    batchSize: setting('batchSize') ?? 100,
    batchWindowSeconds: setting('batchWindow') ?? 0,
    parallelizationFactor: setting('parallelizationFactor') ?? DEFAULT_PARALLELIZATION,
  };
}

export async function benchScale(options: { devices: number }): Promise<BenchOutcome> {
  progress(
    `scale: ${options.devices} devices, 70% drop within 30 s, all back 10 min later; ingest throttled as Lambda does`,
  );
  const figures = await figuresFromChildProcess<ScaleFigures>(import.meta.url, options.devices, HEAP_MB);
  const stream = reconcileStreamSettings(
    readFileSync(fileURLToPath(new URL('../serverless.yml', import.meta.url)), 'utf8'),
  );
  // Every stored event is one write of the events table; its stream has a shard per partition.
  const shards = Math.max(
    MIN_SHARDS,
    Math.ceil(figures.throttled.peakPerSecond / PARTITION_WRITES_PER_SECOND),
  );
  const reconcileConcurrencyPeak = shards * stream.parallelizationFactor;
  const withinKey = figures.hottestKeyWritesPerSecond <= HOT_KEY_BUDGET;
  const withinTransactions = figures.transactionsOnOneItemPerSecond <= TRANSACTIONS_BUDGET;
  const t = figures.throttled;
  return {
    figures: {
      ...figures,
      reconcileConcurrencyPeak,
      reconcilesInFlightPeak: reconcileConcurrencyPeak * DEVICES_AT_ONCE_PER_BATCH,
      eventsStreamShards: shards,
      reconcileStream: stream,
      hotKeyBudget: HOT_KEY_BUDGET,
      transactionsBudget: TRANSACTIONS_BUDGET,
    },
    summary: [
      `${figures.devices} devices, ${figures.lines} lines in ${fmt(figures.seconds, 1)} s (${fmt(figures.cpuSeconds, 1)} s of CPU), peak RSS ${figures.peakRssMb} MB`,
      `exact (device states, GET /fleet, one fleet-outage, one fleet-recovered): ${figures.exact ? 'yes' : `NO: ${figures.differences.join('; ')}`}`,
      `hottest key ${figures.hottestKeyWritesPerSecond} writes/s (${figures.hottestKey}); ${figures.transactionsOnOneItemPerSecond} transactions/s on ${figures.transactionItem}`,
      `ingest throttled ${t.throttled} times (${t.delayedEvents} events late, up to ${fmt(t.maxDelayMs / 1000, 0)} s; ${t.reordered} out of order; ${t.expired} expired)`,
      `reconcile concurrency peak ${reconcileConcurrencyPeak} (${shards} shards × parallelizationFactor ${stream.parallelizationFactor}; ${reconcileConcurrencyPeak * DEVICES_AT_ONCE_PER_BATCH} reconciles in flight)`,
    ],
    ratio: Math.round((figures.hottestKeyWritesPerSecond / HOT_KEY_BUDGET) * 1000) / 1000,
    ratioMeaning: 'hottest key writes/s ÷ 500',
    budget: `hottest key <= ${HOT_KEY_BUDGET} writes/s, <= ${TRANSACTIONS_BUDGET} transactions/s on one item, exact`,
    pass: figures.exact && withinKey && withinTransactions,
    notes: [
      `ingest throttle: ${figures.throttle.concurrency} concurrent ingestPresence × ${1000 / figures.throttle.invocationMs} invocations/s each; retries 1 s doubling to 5 min, events expire after 6 h (Lambda's documented defaults)`,
      'writes are counted per item key and per partition key (the alerts table has a local secondary index: an item collection stays in one partition)',
      'reconcile concurrency: events-table shards (one per 1,000 writes/s of events, at least 4) × the mapping parallelizationFactor in serverless.yml',
      ...(options.devices < FULL_DEVICES
        ? [
            `quick mode: a storm of ${options.devices} devices (the full run replays ${FULL_DEVICES}), throttled in proportion`,
          ]
        : []),
      'the machine is shared: seconds vary with its load; counts per virtual second do not',
    ],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const figures = await runScale(Number(process.argv[2] ?? FULL_DEVICES));
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}
