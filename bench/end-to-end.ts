/**
 * The `end-to-end` benchmark: a flappy generated fleet through the whole pipeline (ingest, stream reconcile, delayed
 * checks, alerts) on the bench stack, with every request and capacity unit counted, and what it costs on AWS.
 */
import { driveTrace } from '../src/local/replay-group.js';
import { createLocalRuntime } from '../src/local/runtime.js';
import { VirtualTimers } from '../src/local/timers.js';
import { type FleetProfile, generateFleetTrace } from '../test/fixtures/aws-model/index.js';
import { type BenchStack, instrument, recordDeviceItemSizes } from './stack.js';
import { type BenchOutcome, fmt, percentile, round } from './support.js';

export interface EndToEndSizes {
  devices: number;
  hours: number;
  profile?: FleetProfile;
  seed?: number;
}

/** us-east-1 on-demand prices, the README's list (no free tier). */
const PRICES = {
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  snsPublish: 0.5 / 1e6,
  sqsRequest: 0.4 / 1e6,
  lambdaRequest: 0.2 / 1e6,
};

/** A delayed check is one SendMessage, one ReceiveMessage (amortised over a batch, counted whole) and one DeleteMessage. */
const SQS_REQUESTS_PER_CHECK = 3;

/** Virtual timers that count what the delay queue is asked to deliver (each is one SQS SendMessage in AWS). */
class CountingTimers extends VirtualTimers {
  foreground = 0;
  override at(at: number, task: () => Promise<void>, options: { background?: boolean } = {}): void {
    if (!options.background) this.foreground += 1;
    super.at(at, task, options);
  }
}

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
  deviceItemBytesP99: number;
  deviceItemBytesMax: number;
  dollarsPerMillionEvents: number;
}

/** Replays the trace on a fresh runtime of the bench stack, counting everything its functions send. */
async function measureEndToEnd(stack: BenchStack, sizes: EndToEndSizes): Promise<EndToEndFigures> {
  const trace = generateFleetTrace({
    devices: sizes.devices,
    hours: sizes.hours,
    seed: sizes.seed ?? 20_261_102,
    profile: sizes.profile ?? 'flappy',
  });
  const timers = new CountingTimers(trace.startAt);
  // No scheduled sweep: its fixed cost per minute is the reconcile benchmark's, not a per-event cost.
  const runtime = await createLocalRuntime({ aws: stack.aws, timers, sweepEveryMs: 0 });
  const meter = instrument(runtime.ports.clients);
  const itemSizes = recordDeviceItemSizes(runtime.ports.clients, runtime.ports.config.DEVICES_TABLE);
  meter.capacity.enabled = true;
  try {
    const stop = meter.start();
    await driveTrace(runtime, timers, trace.lines);
    await timers.runUntilIdle();
    const measured = stop();
    const events = trace.lines.length;
    const checks = Math.max(0, timers.foreground - runtime.counters.retries);
    const sqsRequests = checks * SQS_REQUESTS_PER_CHECK;
    // Ingest, stream batches and checks, as the runtime invoked them (the sweep is not scheduled here).
    const lambdaInvocations = runtime.counters.invocations;
    const dollars =
      measured.awsWriteUnits * PRICES.dynamoWriteUnit +
      measured.readUnits * PRICES.dynamoReadUnit +
      measured.sns * PRICES.snsPublish +
      sqsRequests * PRICES.sqsRequest +
      lambdaInvocations * PRICES.lambdaRequest;
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
      deviceItemBytesP99: percentile(itemSizes, 99),
      deviceItemBytesMax: itemSizes.length > 0 ? Math.max(...itemSizes) : 0,
      dollarsPerMillionEvents: round((dollars / events) * 1e6, 3),
    };
  } finally {
    await runtime.stop();
  }
}

const END_TO_END_BUDGET = { writeUnitsPerEvent: 3.0, dollarsPerMillionEvents: 2.0 };

export async function benchEndToEnd(stack: BenchStack, sizes: EndToEndSizes): Promise<BenchOutcome> {
  const f = await measureEndToEnd(stack, sizes);
  const pass =
    f.writeUnitsPerEvent <= END_TO_END_BUDGET.writeUnitsPerEvent &&
    f.dollarsPerMillionEvents <= END_TO_END_BUDGET.dollarsPerMillionEvents;
  return {
    figures: { ...f },
    summary: [
      `${f.lines} lines of a ${sizes.profile ?? 'flappy'} fleet (${f.devices} devices, ${sizes.hours} h), ${f.alerts} alerts`,
      `${fmt(f.writeUnitsPerEvent, 2)} WRU + ${fmt(f.readUnitsPerEvent, 2)} RRU per event (ingest and indexes included)`,
      `WRU per event by table: ${Object.entries(f.writeUnitsPerEventBy)
        .map(([where, units]) => `${where} ${fmt(units, 2)}`)
        .join(', ')}`,
      `${fmt(f.requestsPerEvent, 2)} requests per event (${fmt(f.dynamodbRequestsPerEvent, 2)} DynamoDB); device item p99 ${f.deviceItemBytesP99} B`,
      `$${fmt(f.dollarsPerMillionEvents, 2)} per million events (${fmt(f.lambdaInvocationsPerEvent, 2)} Lambda invocations per event)`,
    ],
    ratio: round(f.writeUnitsPerEvent / END_TO_END_BUDGET.writeUnitsPerEvent, 3),
    ratioMeaning: 'write units per event ÷ 3.0',
    budget: `writeUnitsPerEvent <= ${END_TO_END_BUDGET.writeUnitsPerEvent}; dollarsPerMillionEvents <= ${END_TO_END_BUDGET.dollarsPerMillionEvents}`,
    pass,
    notes: [
      'capacity as DynamoDB Local reports it with ReturnConsumedCapacity=INDEXES; transactions at AWS’s 2 WRU per KB and item',
      `a delayed check counts ${SQS_REQUESTS_PER_CHECK} SQS requests; Lambda requests as invoked (ingest, stream batches of the 1 s window, checks); duration not included`,
    ],
  };
}
