/**
 * One group of devices of a replay: its runtime on its own deployment and virtual clock, the trace lines fed to it
 * in stream batching windows, and what it ends with (devices, alerts, counters). replay.ts runs the groups, in this
 * thread or in worker threads (replay-worker.ts).
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { FaultInjector } from '../adapters/faults.js';
import { countRequests, type RequestCounts } from './request-counter.js';
import { createLocalRuntime, type LocalRuntime, type ReceivedAlert } from './runtime.js';
import type { LocalAws, TransferableDeployment } from './services/local-aws.js';
import { VirtualTimers } from './timers.js';

/** One line of a trace, checked. */
export interface TraceLine {
  at: number;
  topic: string;
  payload: unknown;
  clientId?: string | undefined;
}

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

export interface GroupResult {
  devices: ReplayedDevice[];
  alerts: ReplayedAlert[];
  rejected: number;
  retries: number;
  deadLettered: number;
  requests?: RequestCounts;
}

/**
 * The deployed schedule is rate(1 minute). Without injected faults the sweep never finds work (every check fires on
 * time and SNS accepts every alert), so the replay runs it every hour of virtual time in each group of devices: the
 * path is still exercised, at a sixtieth of the cost of its index queries every minute.
 */
const SWEEP_EVERY_MS = 60_000;
const IDLE_SWEEP_EVERY_MS = 3_600_000;
/** A bound on how long the replay keeps retrying alerts SNS refuses: an hour of virtual time. */
const MAX_FINAL_SWEEPS = 60;

const toEpoch = (iso: unknown) => (typeof iso === 'string' ? Date.parse(iso) : null);

/** An alert as received from the topic, its times as epoch ms. */
export function asReplayed(alert: ReceivedAlert): ReplayedAlert {
  return { ...alert, publishedAt: toEpoch(alert.publishedAt) ?? 0, since: toEpoch(alert.since) ?? 0 };
}

/** What a group's run takes of the replay's options (a worker thread gets them as data: no fault injector). */
export interface GroupOptions {
  faults?: FaultInjector;
  /** Count the SDK requests the functions send (service.command -> count) into the result. */
  countRequests?: boolean;
}

/** The work of one worker thread, and its answer. */
export interface WorkerJob {
  groups: Array<{ deployment: TransferableDeployment; lines: TraceLine[] }>;
  firstAt: number;
  options: Pick<GroupOptions, 'countRequests'>;
}

export type WorkerReply = { results: GroupResult[] } | { error: string };

export interface PreparedGroup {
  /** Replays the group's lines, reads the result and stops the runtime. */
  run(): Promise<GroupResult>;
  /** Stops the runtime of a group that will not run. */
  stop(): Promise<void>;
}

/** Makes one group's runtime on its deployment. */
export async function prepareGroup(
  aws: LocalAws,
  lines: readonly TraceLine[],
  firstAt: number,
  options: GroupOptions,
): Promise<PreparedGroup> {
  const timers = new VirtualTimers(firstAt);
  const runtime = await createLocalRuntime({
    aws,
    timers,
    placeFleetIncidents: false,
    // The replay reads no fleet counts: the devices stream is left unread.
    fleetCountWindowMs: 0,
    sweepEveryMs:
      options.faults?.active || process.env.IOT_PRESENCE_FAULTS ? SWEEP_EVERY_MS : IDLE_SWEEP_EVERY_MS,
    ...(options.faults ? { faults: options.faults } : {}),
  });
  const requests = options.countRequests ? countRequests(runtime.ports.clients) : undefined;
  const run = async (): Promise<GroupResult> => {
    try {
      await driveTrace(runtime, timers, lines);
      await timers.runUntilIdle();
      // Nothing is pending until the outbox is empty too: let the sweep retry what SNS refused.
      // The driver's own look goes through the functions' client, faults included: ask again rather than fail.
      const stillUnsent = async () => {
        for (let attempt = 1; attempt < 5; attempt += 1) {
          try {
            return await runtime.ports.devices.hasUnsent();
          } catch {
            // An injected or transient fault: the next attempt decides.
          }
        }
        return true;
      };
      for (let sweeps = 0; sweeps < MAX_FINAL_SWEEPS && (await stillUnsent()); sweeps += 1) {
        await timers.advanceTo(timers.now() + SWEEP_EVERY_MS);
        await timers.runUntilIdle();
      }
      const alerts = (await runtime.receiveAlerts()).map(asReplayed);
      return {
        devices: await listAllDevices(runtime.handlers.listDevices),
        alerts,
        rejected: runtime.counters.rejected + runtime.counters.unrouted,
        retries: runtime.counters.retries,
        deadLettered: runtime.counters.deadLettered,
        ...(requests ? { requests } : {}),
      };
    } finally {
      await runtime.stop();
    }
  };
  return { run, stop: () => runtime.stop() };
}

/**
 * One page of devices. The replay's own reads go through the functions' client, faults included: a page an injected
 * fault failed is asked for again, as a client of the API would.
 */
async function readPage(listDevices: LocalRuntime['handlers']['listDevices'], event: APIGatewayProxyEventV2) {
  for (let attempt = 1; ; attempt += 1) {
    const response = (await listDevices(event, {} as never)) as { statusCode: number; body: string };
    if (response.statusCode === 200) {
      return JSON.parse(response.body) as { items: Array<Record<string, unknown>>; cursor: string | null };
    }
    if (attempt === 10) throw new Error(`listing the devices failed ${attempt} times: ${response.body}`);
  }
}

/** Reads every device through the HTTP handler, both statuses, following cursors. */
async function listAllDevices(listDevices: LocalRuntime['handlers']['listDevices']) {
  const devices: ReplayedDevice[] = [];
  for (const status of ['connected', 'disconnected']) {
    let cursor: string | undefined;
    do {
      // The handler reads nothing of the request but its query string.
      const event: Partial<APIGatewayProxyEventV2> = {
        queryStringParameters: { status, limit: '100', ...(cursor ? { cursor } : {}) },
      };
      const body = await readPage(listDevices, event as APIGatewayProxyEventV2);
      for (const item of body.items) {
        devices.push({ ...(item as unknown as ReplayedDevice), since: toEpoch(item.since) });
      }
      cursor = body.cursor ?? undefined;
    } while (cursor);
  }
  return devices.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}
