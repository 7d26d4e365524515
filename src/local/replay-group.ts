/**
 * How the replay drives a runtime (in-memory or on the emulators) in virtual time and reads what it ends with:
 * devices through GET /devices, the fleet through GET /fleet, alerts from the topic's inbox.
 */

import { apiRequest, type ReplayRuntime } from './replay-in-memory.js';
import type { LocalRuntime, ReceivedAlert } from './runtime.js';
import type { VirtualTimers } from './timers.js';

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
 * `onBatch` hears how many lines are done after each batch.
 */
export async function driveTrace(
  runtime: Pick<LocalRuntime, 'publishBatch'>,
  timers: VirtualTimers,
  lines: readonly DeliveredLine[],
  onBatch?: (linesDone: number) => void,
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
    onBatch?.(index);
  }
}

/** serverless.yml gives the stream mapping a 1 s batching window; the replay batches the same way. */
const STREAM_BATCH_WINDOW_MS = 1_000;

interface ReplayedDevice {
  deviceId: string;
  status: string;
  sessionIdentifier: string;
  settled: boolean;
  since: number | null;
  disconnectReason: string | null;
  [field: string]: unknown;
}

interface ReplayedAlert {
  alertId: string;
  type: ReceivedAlert['type'];
  deviceId: string;
  sessionIdentifier: string;
  disconnectReason: string | null;
  publishedAt: number;
  since: number;
  [field: string]: unknown;
}

/** GET /fleet at the end of the replay. */
type ReplayedFleet = Record<string, unknown>;

export interface RunResult {
  devices: ReplayedDevice[];
  alerts: ReplayedAlert[];
  fleet: ReplayedFleet;
  rejected: number;
  retries: number;
  deadLettered: number;
}

/** A bound on how long the replay keeps retrying alerts SNS refuses: an hour of virtual time. */
const MAX_FINAL_SWEEPS = 60;
const SWEEP_EVERY_MS = 60_000;

const toEpoch = (iso: unknown) => (typeof iso === 'string' ? Date.parse(iso) : null);

/** An alert as received from the topic, its times as epoch ms. */
function asReplayed(alert: ReceivedAlert): ReplayedAlert {
  return { ...alert, publishedAt: toEpoch(alert.publishedAt) ?? 0, since: toEpoch(alert.since) ?? 0 };
}

/** Replays the lines on the runtime, lets every check and retry run, and reads what the fleet ends as. */
export async function runTrace(
  runtime: ReplayRuntime,
  timers: VirtualTimers,
  lines: readonly TraceLine[],
  onBatch?: (linesDone: number) => void,
): Promise<RunResult> {
  await driveTrace(runtime, timers, lines, onBatch);
  await timers.runUntilIdle();
  // Nothing is pending until the outbox is empty too: let the sweep retry what SNS refused.
  // The driver's own look goes through the functions' client, faults included: ask again rather than fail.
  const stillUnsent = async () => {
    for (let attempt = 1; attempt < 5; attempt += 1) {
      try {
        return await runtime.hasUnsent();
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
  await runtime.flushFleetCounts();
  const alerts = (await runtime.receiveAlerts()).map(asReplayed);
  return {
    devices: await listAllDevices(runtime.handlers.listDevices),
    alerts: alerts.sort(
      (a, b) => a.publishedAt - b.publishedAt || (a.alertId < b.alertId ? -1 : a.alertId > b.alertId ? 1 : 0),
    ),
    fleet: await readOk(runtime.handlers.fleet, {}),
    rejected: runtime.counters.rejected + runtime.counters.unrouted,
    retries: runtime.counters.retries,
    deadLettered: runtime.counters.deadLettered,
  };
}

/**
 * One response of a read handler. The replay's own reads go through the functions' client, faults included: a
 * request an injected fault failed is made again, as a client of the API would.
 */
async function readOk(handler: ReplayRuntime['handlers']['listDevices'], query: Record<string, string>) {
  for (let attempt = 1; ; attempt += 1) {
    const response = (await handler(apiRequest(query), {} as never)) as { statusCode: number; body: string };
    if (response.statusCode === 200) return JSON.parse(response.body) as Record<string, unknown>;
    if (attempt === 10)
      throw new Error(`reading ${JSON.stringify(query)} failed ${attempt} times: ${response.body}`);
  }
}

/** Every device through GET /devices, both statuses, following cursors; fields in one order, by deviceId. */
async function listAllDevices(listDevices: ReplayRuntime['handlers']['listDevices']) {
  const devices: ReplayedDevice[] = [];
  for (const status of ['connected', 'disconnected']) {
    let cursor: string | undefined;
    do {
      const body = (await readOk(listDevices, { status, limit: '100', ...(cursor ? { cursor } : {}) })) as {
        items: Array<Record<string, unknown>>;
        cursor: string | null;
      };
      for (const item of body.items) {
        const device = { ...item, since: toEpoch(item.since) };
        devices.push(Object.fromEntries(Object.entries(device).sort()) as ReplayedDevice);
      }
      cursor = body.cursor ?? undefined;
    } while (cursor);
  }
  return devices.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
}
