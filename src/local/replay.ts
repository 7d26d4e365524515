import type { FaultInjector } from '../adapters/faults.js';
import * as z from '../shared/zod.js';
import { countRequests, type RequestCounts } from './request-counter.js';
import { createLocalRuntime, type LocalRuntime, type ReceivedAlert } from './runtime.js';
import { startLocalAws } from './services/local-aws.js';
import { VirtualTimers } from './timers.js';

/** One line of a trace: an MQTT message as the rules engine delivers it. */
const traceLineSchema = z.object({
  at: z.int().check(z.gte(0)),
  topic: z.string().check(z.minLength(1)),
  payload: z.unknown(),
  clientId: z.optional(z.string()),
});

type TraceLine = z.infer<typeof traceLineSchema>;

/** A trace line as driveTrace takes it: when the rule delivers it, and what. */
export interface DeliveredLine {
  at: number;
  topic: string;
  payload?: unknown;
  clientId?: string;
}

/**
 * Feeds trace lines to a runtime in virtual time: each check falls due before the lines after it, and lines inside
 * one stream batching window are ingested together and read from the stream once, as the deployed mapping does.
 */
export async function driveTrace(
  runtime: Pick<LocalRuntime, 'publishBatch'>,
  timers: VirtualTimers,
  lines: readonly DeliveredLine[],
): Promise<void> {
  for (let index = 0; index < lines.length; ) {
    const first = lines[index] as DeliveredLine;
    await timers.advanceTo(first.at);
    // One stream batching window, cut short by any check that falls due inside it.
    const windowEnd = Math.min(first.at + STREAM_BATCH_WINDOW_MS, timers.nextForegroundDue() ?? Infinity);
    const batch: DeliveredLine[] = [];
    while (index < lines.length && (batch.length === 0 || (lines[index] as DeliveredLine).at < windowEnd)) {
      batch.push(lines[index] as DeliveredLine);
      index += 1;
    }
    const messages = batch.map((line) => ({
      topic: line.topic,
      payload: Buffer.from(
        typeof line.payload === 'string' ? line.payload : JSON.stringify(line.payload ?? null),
      ),
      clientId: line.clientId ?? null,
      receivedAt: Math.max(line.at, timers.now()),
    }));
    await timers.advanceTo((batch[batch.length - 1] as DeliveredLine).at);
    await runtime.publishBatch(messages);
  }
}

/** serverless.yml gives the stream mapping a 1 s batching window; the replay batches the same way. */
const STREAM_BATCH_WINDOW_MS = 1_000;

export interface ReplayedDevice {
  deviceId: string;
  status: string;
  sessionIdentifier: string;
  settled: boolean;
  since: number | null;
  disconnectReason: string | null;
  [field: string]: unknown;
}

export interface ReplayedAlert {
  alertId: string;
  type: ReceivedAlert['type'];
  deviceId: string;
  sessionIdentifier: string;
  disconnectReason: string | null;
  publishedAt: number;
  since: number;
  [field: string]: unknown;
}

export interface ReplayResult {
  devices: ReplayedDevice[];
  alerts: ReplayedAlert[];
  rejected: number;
  retries: number;
  deadLettered: number;
  lines: number;
  requests?: RequestCounts;
}

export interface ReplayOptions {
  faults?: FaultInjector;
  /** Count the SDK requests the functions send (service.command -> count) into the result. */
  countRequests?: boolean;
}

/**
 * The deployed schedule is rate(1 minute). Without injected faults the sweep never finds work (every check fires on
 * time and SNS accepts every alert), so the replay runs it every 10 minutes: the path is still exercised, at a tenth
 * of the cost of 16 index queries a minute of virtual time.
 */
const SWEEP_EVERY_MS = 60_000;
const IDLE_SWEEP_EVERY_MS = 600_000;
/** A bound on how long the replay keeps retrying alerts SNS refuses: an hour of virtual time. */
const MAX_FINAL_SWEEPS = 60;

const toEpoch = (iso: unknown) => (typeof iso === 'string' ? Date.parse(iso) : null);

/**
 * Replays a trace through the whole pipeline in virtual time: the same rule projection and handlers as the
 * deployment, against DynamoDB Local and the SNS/SQS emulator, with delayed checks on a virtual clock.
 */
export async function replayTrace(
  lines: readonly string[],
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const parsed = lines
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      try {
        const result = traceLineSchema.safeParse(JSON.parse(line));
        return result.success ? result.data : undefined;
      } catch {
        return undefined;
      }
    });
  const firstAt = parsed.find((line) => line !== undefined)?.at ?? 0;
  const aws = await startLocalAws({ prefix: 'replay' });
  const timers = new VirtualTimers(firstAt);
  const runtime = await createLocalRuntime({
    aws,
    timers,
    sweepEveryMs:
      options.faults?.active || process.env.IOT_PRESENCE_FAULTS ? SWEEP_EVERY_MS : IDLE_SWEEP_EVERY_MS,
    faults: options.faults,
  }).catch(async (error: unknown) => {
    await aws.stop();
    throw error;
  });
  const requests = options.countRequests ? countRequests(runtime.ports.clients) : undefined;
  try {
    const badLines = parsed.filter((line) => line === undefined).length;
    const valid = parsed.filter((line): line is TraceLine => line !== undefined);
    await driveTrace(runtime, timers, valid);
    await timers.runUntilIdle();
    // Nothing is pending until the outbox is empty too: let the sweep retry what SNS refused.
    for (
      let sweeps = 0;
      sweeps < MAX_FINAL_SWEEPS && (await runtime.ports.devices.hasUnsent());
      sweeps += 1
    ) {
      await timers.advanceTo(timers.now() + SWEEP_EVERY_MS);
      await timers.runUntilIdle();
    }
    const alerts = (await runtime.receiveAlerts())
      .map((alert) => ({
        ...alert,
        publishedAt: toEpoch(alert.publishedAt) ?? 0,
        since: toEpoch(alert.since) ?? 0,
      }))
      .sort((a, b) => a.publishedAt - b.publishedAt || a.alertId.localeCompare(b.alertId));
    return {
      devices: await listAllDevices(runtime.handlers.listDevices),
      alerts,
      rejected: badLines + runtime.counters.rejected + runtime.counters.unrouted,
      retries: runtime.counters.retries,
      deadLettered: runtime.counters.deadLettered,
      lines: parsed.length,
      ...(requests ? { requests } : {}),
    };
  } finally {
    await runtime.stop();
    await aws.stop();
  }
}

type Handler = (event: unknown, context: never) => Promise<unknown>;

/** Reads every device through the HTTP handler, both statuses, following cursors. */
async function listAllDevices(listDevices: (event: unknown, context: never) => Promise<unknown>) {
  const devices: ReplayedDevice[] = [];
  for (const status of ['connected', 'disconnected']) {
    let cursor: string | undefined;
    do {
      const response = (await (listDevices as Handler)(
        { queryStringParameters: { status, limit: '100', ...(cursor ? { cursor } : {}) } },
        {} as never,
      )) as { statusCode: number; body: string };
      const body = JSON.parse(response.body) as {
        items: Array<Record<string, unknown>>;
        cursor: string | null;
      };
      for (const item of body.items) {
        devices.push({ ...(item as unknown as ReplayedDevice), since: toEpoch(item.since) });
      }
      cursor = body.cursor ?? undefined;
    } while (cursor);
  }
  return devices.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}
