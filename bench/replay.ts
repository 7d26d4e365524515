import { driveTrace, replayTrace } from '../src/local/replay.js';
import { createLocalRuntime } from '../src/local/runtime.js';
import { VirtualTimers } from '../src/local/timers.js';
import { type FleetTrace, generateFleetTrace } from '../test/fixtures/aws-model/index.js';
import { type BenchStack, instrument } from './stack.js';
import { type BenchOutcome, fmt, percentile, progress, round, timed } from './support.js';

export interface ReplaySizes {
  devices: number;
  hours: number;
  /** Devices and hours of the smaller trace replayed on the counted bench stack (requests per event). */
  countedDevices: number;
  countedHours: number;
}

const SEED = 20_261_101;

/** Virtual timers that count what the delay queue is asked to deliver (each is one SQS SendMessage in AWS). */
class CountingTimers extends VirtualTimers {
  foreground = 0;
  override at(at: number, task: () => Promise<void>, options: { background?: boolean } = {}): void {
    if (!options.background) this.foreground += 1;
    super.at(at, task, options);
  }
}

export interface CountedPipeline {
  lines: number;
  devices: number;
  requests: Record<string, number>;
  perEvent: {
    dynamodb: number;
    dynamodbReads: number;
    dynamodbWrites: number;
    sns: number;
    delayedChecks: number;
    readUnits: number;
    writeUnits: number;
  };
  alerts: number;
}

/**
 * Replays a small trace on the bench stack with a fresh runtime whose clients are counted, batching lines by the
 * stream window as src/local/replay.ts does: DynamoDB and SNS requests per event, end to end.
 */
export async function countedPipeline(stack: BenchStack, sizes: ReplaySizes): Promise<CountedPipeline> {
  const trace = generateFleetTrace({
    devices: sizes.countedDevices,
    hours: sizes.countedHours,
    seed: SEED + 1,
  });
  const timers = new CountingTimers(trace.startAt);
  // No scheduled sweep here: its fixed cost per minute (16 queries when idle) is measured by the reconcile benchmark
  // and would otherwise be spread over however few events the trace has.
  const runtime = await createLocalRuntime({ aws: stack.aws, timers, sweepEveryMs: 0 });
  const meter = instrument(runtime.ports.clients);
  meter.capacity.enabled = true;
  try {
    const stop = meter.start();
    const lines = trace.lines;
    await driveTrace(runtime, timers, lines);
    await timers.runUntilIdle();
    const measured = stop();
    const events = lines.length;
    const retries = runtime.counters.retries;
    const per = (value: number) => round(value / events, 4);
    return {
      lines: events,
      devices: sizes.countedDevices,
      requests: measured.requests,
      perEvent: {
        dynamodb: per(measured.dynamodb),
        dynamodbReads: per(measured.dynamodbReads),
        dynamodbWrites: per(measured.dynamodbWrites),
        sns: per(measured.sns),
        delayedChecks: per(Math.max(0, timers.foreground - retries)),
        readUnits: per(measured.readUnits),
        writeUnits: per(measured.awsWriteUnits),
      },
      alerts: measured.requests['sns.PublishCommand'] ?? 0,
    };
  } finally {
    await runtime.stop();
  }
}

interface Comparison {
  equal: boolean;
  expected: number;
  received: number;
  duplicates: number;
  missing: string[];
  unexpected: string[];
  latenciesMs: number[];
}

function compareAlerts(
  trace: FleetTrace,
  alerts: ReadonlyArray<{ type: string; deviceId: string; sessionIdentifier: string; publishedAt: number }>,
): Comparison {
  const key = (a: { type: string; deviceId: string; sessionIdentifier: string }) =>
    `${a.type}|${a.deviceId}|${a.sessionIdentifier}`;
  const expected = new Map(trace.expected.alerts.map((a) => [key(a), a]));
  const seen = new Set<string>();
  const latenciesMs: number[] = [];
  let duplicates = 0;
  const unexpected: string[] = [];
  for (const alert of alerts) {
    const k = key(alert);
    if (seen.has(k)) {
      duplicates += 1;
      continue;
    }
    seen.add(k);
    const owed = expected.get(k);
    if (!owed) unexpected.push(k);
    else latenciesMs.push(alert.publishedAt - owed.earliest);
  }
  const missing = [...expected.keys()].filter((k) => !seen.has(k));
  return {
    equal: duplicates === 0 && missing.length === 0 && unexpected.length === 0,
    expected: expected.size,
    received: alerts.length,
    duplicates,
    missing,
    unexpected,
    latenciesMs,
  };
}

/**
 * The whole pipeline in virtual time through replayTrace (its own DynamoDB Local and emulator): events/s of wall
 * time, alert latency beyond the earliest time the contract allows (virtual time), and equality with the oracle.
 */
export async function benchReplay(
  sizes: ReplaySizes,
  counted: CountedPipeline | undefined,
  startupMs: number,
): Promise<BenchOutcome> {
  const trace = generateFleetTrace({ devices: sizes.devices, hours: sizes.hours, seed: SEED });
  const lines = trace.lines.map((line) => JSON.stringify(line));
  progress(`replay: ${lines.length} lines, ${sizes.devices} devices, ${sizes.hours} h (virtual)`);
  const { value: result, ms } = await timed(() => replayTrace(lines));
  // ReplayedAlert's Omit<> over an index signature loses the named fields: read them back explicitly.
  const received = result.alerts.map((alert) => ({
    type: String(alert.type),
    deviceId: String(alert.deviceId),
    sessionIdentifier: String(alert.sessionIdentifier),
    publishedAt: alert.publishedAt,
  }));
  const comparison = compareAlerts(trace, received);
  const expectedDevices = new Map(trace.expected.devices.map((d) => [d.deviceId, d]));
  const devicesEqual =
    result.devices.length === expectedDevices.size &&
    result.devices.every((d) => {
      const owed = expectedDevices.get(d.deviceId);
      return owed?.status === d.status && owed.sessionIdentifier === d.sessionIdentifier;
    });
  const lat = comparison.latenciesMs;
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  const max = lat.length > 0 ? Math.max(...lat) : Number.NaN;
  const eventsPerSecond = lines.length / (ms / 1000);
  const withoutStartup = lines.length / (Math.max(1, ms - startupMs) / 1000);
  const ratio = p99 / 10_000;
  return {
    figures: {
      lines: lines.length,
      devices: sizes.devices,
      virtualHours: sizes.hours,
      wallSeconds: round(ms / 1000, 1),
      eventsPerSecond: round(eventsPerSecond, 0),
      eventsPerSecondExcludingServiceStart: round(withoutStartup, 0),
      serviceStartMsMeasuredThisRun: round(startupMs, 0),
      alerts: {
        expected: comparison.expected,
        received: comparison.received,
        duplicates: comparison.duplicates,
        missing: comparison.missing.slice(0, 20),
        unexpected: comparison.unexpected.slice(0, 20),
        equalToOracle: comparison.equal,
      },
      devicesEqualToOracle: devicesEqual,
      latencyBeyondEarliestMs: { p50: round(p50, 0), p99: round(p99, 0), max: round(max, 0) },
      rejected: result.rejected,
      retries: result.retries,
      deadLettered: result.deadLettered,
      countedRun: counted ?? null,
    },
    summary: [
      `${lines.length} lines in ${fmt(ms / 1000, 1)} s: ${fmt(eventsPerSecond, 0)} ev/s (${fmt(withoutStartup, 0)} without service start)`,
      `alert latency beyond earliest: p50 ${fmt(p50 / 1000, 2)} s, p99 ${fmt(p99 / 1000, 2)} s, max ${fmt(max / 1000, 2)} s (virtual)`,
      `alerts equal to oracle: ${comparison.equal ? 'yes' : 'NO'} (${comparison.received}/${comparison.expected}); devices: ${devicesEqual ? 'yes' : 'NO'}`,
      ...(counted
        ? [
            `counted run (${counted.lines} lines): ${fmt(counted.perEvent.dynamodb, 2)} DynamoDB req/event (${fmt(counted.perEvent.dynamodbReads, 2)} reads), ${fmt(counted.perEvent.sns, 3)} SNS, ${fmt(counted.perEvent.delayedChecks, 3)} checks`,
            `  ${fmt(counted.perEvent.readUnits, 2)} RRU + ${fmt(counted.perEvent.writeUnits, 2)} WRU per event (AWS rules, indexes included)`,
          ]
        : []),
    ],
    ratio: round(ratio, 3),
    ratioMeaning: 'p99 alert latency beyond the earliest allowed time ÷ 10 s',
    budget: 'ratio <= 1 (p99 <= 10 s); alerts equal to the oracle',
    pass: ratio <= 1 && comparison.equal,
    notes: [
      'replayTrace starts its own DynamoDB Local and emulator: wall time includes that start',
      'latency in virtual time: publishedAt − earliest (end first seen + W for offline, reconnect seen for online)',
    ],
  };
}
