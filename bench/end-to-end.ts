/**
 * The `end-to-end` benchmark: a flappy generated fleet through the whole pipeline (ingest, stream reconcile, delayed
 * checks, alerts) on the bench stack, with every request and capacity unit counted, and what it costs on AWS.
 */
import { driveTrace } from '../src/local/replay-group.js';
import { createLocalRuntime } from '../src/local/runtime.js';
import { VirtualTimers } from '../src/local/timers.js';
import { type FleetProfile, generateFleetTrace } from '../test/fixtures/aws-model/index.js';
import { billedGbSeconds, floorDollarsPerEvent, PRICES } from './prices.js';
import { type BenchStack, instrument, recordDeviceItemSizes } from './stack.js';
import { type BenchOutcome, fmt, percentile, round } from './support.js';

export interface EndToEndSizes {
  devices: number;
  hours: number;
  profile?: FleetProfile;
  seed?: number;
}

/**
 * A delayed check is one SendMessage; each batch Lambda's SQS poller hands the settle check (up to 10 messages, as
 * deployed) is one ReceiveMessage and one DeleteMessageBatch. The pollers' empty receives are a fixed cost, left out.
 */
const SQS_REQUESTS_PER_CHECK_BATCH = 2;
/** serverless.yml's batchSize of the settle check's SQS event source. */
const CHECK_BATCH_SIZE = 10;

interface EndToEndFigures {
  lines: number;
  devices: number;
  alerts: number;
  requests: Record<string, number>;
  writeUnitsPerEvent: number;
  /** Write units per event by table and index (the runtime's table prefix left out; `+tx`: in transactions). */
  writeUnitsPerEventBy: Record<string, number>;
  readUnitsPerEvent: number;
  requestsPerEvent: number;
  dynamodbRequestsPerEvent: number;
  snsPublishesPerEvent: number;
  delayedChecksPerEvent: number;
  lambdaInvocationsPerEvent: number;
  /** Invocations per event by function. */
  lambdaInvocationsPerEventBy: Record<string, number>;
  /** arm64 GB-seconds per event, from each invocation's measured duration rounded up to the millisecond. */
  lambdaGbSecondsPerEvent: number;
  /** Median measured duration by function (ms; the machine is shared, so these are noisy). */
  lambdaMedianMsBy: Record<string, number>;
  /** Device records written (conditional PutItems sent, conflicts included) per event. */
  deviceWritesPerEvent: number;
  deviceItemBytesP99: number;
  deviceItemBytesMax: number;
  /** Dollars per million events by charge. */
  dollarsPerMillionEventsBy: Record<string, number>;
  dollarsPerMillionEvents: number;
  /** This design's floor in the same prices: the rule and its action, one ingest invocation, 2 WRU. */
  floorDollarsPerMillionEvents: number;
  ratioToFloor: number;
}

/** Replays the trace on a fresh runtime of the bench stack, counting everything its functions send. */
async function measureEndToEnd(stack: BenchStack, sizes: EndToEndSizes): Promise<EndToEndFigures> {
  const trace = generateFleetTrace({
    devices: sizes.devices,
    hours: sizes.hours,
    seed: sizes.seed ?? 20_261_102,
    profile: sizes.profile ?? 'flappy',
  });
  const timers = new VirtualTimers(trace.startAt);
  const durations: Record<string, number[]> = {};
  const checkBatches = { events: 0, messages: 0 };
  // No scheduled sweep: its fixed cost per minute is the reconcile benchmark's, not a per-event cost.
  const runtime = await createLocalRuntime({
    aws: stack.aws,
    timers,
    sweepEveryMs: 0,
    virtualCheckBatches: {
      batchSize: CHECK_BATCH_SIZE,
      onBatch: (messages) => {
        checkBatches.events += 1;
        checkBatches.messages += messages;
      },
    },
    onInvoked: (name, ms) => {
      durations[name] ??= [];
      durations[name].push(ms);
    },
  });
  const meter = instrument(runtime.ports.clients);
  const itemSizes = recordDeviceItemSizes(runtime.ports.clients, runtime.ports.config.DEVICES_TABLE);
  meter.capacity.enabled = true;
  try {
    const stop = meter.start();
    await driveTrace(runtime, timers, trace.lines);
    await timers.runUntilIdle();
    const measured = stop();
    const events = trace.lines.length;
    // Every message delivered was sent once, except those delivered again after a failure.
    const checks = Math.max(0, checkBatches.messages - runtime.counters.retries);
    const sqsRequests = checks + checkBatches.events * SQS_REQUESTS_PER_CHECK_BATCH;
    // Ingest, stream batches, checks and fleet-count windows, as the runtime invoked them (no sweep is scheduled).
    const lambdaInvocations = runtime.counters.invocations;
    const gbSeconds = Object.values(durations)
      .flat()
      .reduce((sum, ms) => sum + billedGbSeconds(ms), 0);
    const ingestMs = [...(durations.ingestPresence ?? []), ...(durations.ingestDeviceMessage ?? [])];
    const ingestGbSeconds =
      ingestMs.reduce((sum, ms) => sum + billedGbSeconds(ms), 0) / Math.max(1, ingestMs.length);
    // Each message a rule matched: one rule triggered, one Lambda action.
    const rulesTriggered = runtime.counters.delivered - runtime.counters.unrouted;
    const charges = {
      iotRules: rulesTriggered * (PRICES.iotRuleTriggered.dollars + PRICES.iotRuleAction.dollars),
      lambdaRequests: lambdaInvocations * PRICES.lambdaRequest.dollars,
      lambdaDuration: gbSeconds * PRICES.lambdaArmGbSecond.dollars,
      dynamoWrites: measured.awsWriteUnits * PRICES.dynamoWriteUnit.dollars,
      dynamoReads: measured.readUnits * PRICES.dynamoReadUnit.dollars,
      sqs: sqsRequests * PRICES.sqsRequest.dollars,
      sns: measured.sns * PRICES.snsPublish.dollars,
    };
    const dollars = Object.values(charges).reduce((sum, value) => sum + value, 0);
    const floor = floorDollarsPerEvent(ingestGbSeconds) * events;
    const per = (value: number, digits = 3) => round(value / events, digits);
    return {
      lines: events,
      devices: sizes.devices,
      alerts: measured.requests['sns.PublishCommand'] ?? 0,
      requests: measured.requests,
      writeUnitsPerEvent: per(measured.awsWriteUnits),
      writeUnitsPerEventBy: Object.fromEntries(
        Object.entries(measured.writeUnitsBy)
          .sort((a, b) => b[1] - a[1])
          .map(([where, units]) => [where.replace(/^[^-]*-/, ''), per(units)]),
      ),
      readUnitsPerEvent: per(measured.readUnits),
      requestsPerEvent: per(measured.dynamodb + measured.sns + sqsRequests),
      dynamodbRequestsPerEvent: per(measured.dynamodb),
      snsPublishesPerEvent: per(measured.sns),
      delayedChecksPerEvent: per(checks),
      lambdaInvocationsPerEvent: per(lambdaInvocations),
      lambdaInvocationsPerEventBy: Object.fromEntries(
        Object.entries(durations).map(([name, runs]) => [name, per(runs.length)]),
      ),
      lambdaGbSecondsPerEvent: round(gbSeconds / events, 6),
      lambdaMedianMsBy: Object.fromEntries(
        Object.entries(durations).map(([name, runs]) => [name, round(percentile(runs, 50), 1)]),
      ),
      deviceWritesPerEvent: per(itemSizes.length),
      deviceItemBytesP99: percentile(itemSizes, 99),
      deviceItemBytesMax: itemSizes.length > 0 ? Math.max(...itemSizes) : 0,
      dollarsPerMillionEventsBy: Object.fromEntries(
        Object.entries(charges).map(([charge, value]) => [charge, round((value / events) * 1e6, 3)]),
      ),
      dollarsPerMillionEvents: round((dollars / events) * 1e6, 3),
      floorDollarsPerMillionEvents: round((floor / events) * 1e6, 3),
      ratioToFloor: round(dollars / floor, 3),
    };
  } finally {
    await runtime.stop();
  }
}

/** Budgets of issue 22: the flappy 20-device fleet, and a mixed fleet of 2,000 devices (where users live). */
const END_TO_END_BUDGETS = {
  'end-to-end': { writeUnitsPerEvent: 2.6, ratioToFloor: Number.POSITIVE_INFINITY },
  'end-to-end-fleet': { writeUnitsPerEvent: 2.3, ratioToFloor: 1.2 },
} as const;

export async function benchEndToEnd(
  stack: BenchStack,
  sizes: EndToEndSizes,
  entry: keyof typeof END_TO_END_BUDGETS = 'end-to-end',
): Promise<BenchOutcome> {
  const budget = END_TO_END_BUDGETS[entry];
  const f = await measureEndToEnd(stack, sizes);
  const pass = f.writeUnitsPerEvent <= budget.writeUnitsPerEvent && f.ratioToFloor <= budget.ratioToFloor;
  const floorBudget = Number.isFinite(budget.ratioToFloor) ? `; ratioToFloor <= ${budget.ratioToFloor}` : '';
  return {
    figures: { ...f },
    summary: [
      `${f.lines} lines of a ${sizes.profile ?? 'flappy'} fleet (${f.devices} devices, ${sizes.hours} h), ${f.alerts} alerts`,
      `${fmt(f.writeUnitsPerEvent, 2)} WRU + ${fmt(f.readUnitsPerEvent, 2)} RRU per event (ingest and indexes included)`,
      `WRU per event by table: ${Object.entries(f.writeUnitsPerEventBy)
        .map(([where, units]) => `${where} ${fmt(units, 2)}`)
        .join(', ')}`,
      `${fmt(f.deviceWritesPerEvent, 2)} device records written per event (p99 ${f.deviceItemBytesP99} B); ${fmt(f.lambdaInvocationsPerEvent, 2)} Lambda invocations and ${fmt(f.lambdaGbSecondsPerEvent * 1000, 2)} mGB-s per event; ${fmt(f.delayedChecksPerEvent, 2)} checks per event`,
      `$${fmt(f.dollarsPerMillionEvents, 2)} per million events, floor $${fmt(f.floorDollarsPerMillionEvents, 2)} (×${fmt(f.ratioToFloor, 2)}): ${Object.entries(
        f.dollarsPerMillionEventsBy,
      )
        .map(([charge, value]) => `${charge} ${fmt(value, 2)}`)
        .join(', ')}`,
    ],
    ratio: f.ratioToFloor,
    ratioMeaning: 'dollars per event ÷ this design’s floor (rule + action, one ingest invocation, 2 WRU)',
    budget: `writeUnitsPerEvent <= ${budget.writeUnitsPerEvent}${floorBudget}`,
    pass,
    notes: [
      'capacity as DynamoDB Local reports it with ReturnConsumedCapacity=INDEXES; transactions at AWS’s 2 WRU per KB and item',
      `SQS: a SendMessage per delayed check, ${SQS_REQUESTS_PER_CHECK_BATCH} requests per batch delivered (receive, batch delete); Lambda requests as invoked (ingest, stream batches of the 1 s window, checks, fleet-count windows)`,
      'Lambda duration: each handler timed in this process against DynamoDB Local (not the packaged artifact), billed at 256 MB on arm64 in whole ms; noisy on a shared machine',
      'CloudWatch Logs, metrics and storage are left out; prices: bench/prices.ts',
      ...(entry === 'end-to-end-fleet' && sizes.devices < 2_000
        ? [`quick mode: ${sizes.devices} devices, not the budgets' 2,000`]
        : []),
    ],
  };
}
