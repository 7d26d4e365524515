import { createReconcilerWiring } from '../src/composition/reconciler.js';
import type { DeviceEvent } from '../src/domain/device-events.js';
import { connectedEvent, disconnectedEvent } from '../src/local/in-memory-ports.js';
import { lambdaContext } from '../src/local/lambda-context.js';
import { forEachWithLimit } from '../src/shared/concurrency.js';
import { apiEvent } from '../test/fixtures/virtual-runtime.js';
import { BENCH_T0, type BenchStack } from './stack.js';
import { type BenchOutcome, fmt, round } from './support.js';

export interface UptimeSizes {
  /** Days of history of each device. */
  days: number;
  /** Takeovers a day of the device whose id two devices fight over. */
  takeoversPerDay: number;
}

type ApiHandler = (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;
const DAY = 86_400_000;
/** The events stream's batch size (serverless.yml's batchSize for reconcileEvents). */
const STREAM_BATCH = 100;

/**
 * What GET /devices/{id}/uptime reads: for a device in a clientId fight (thousands of events a day) and for a quiet
 * one (an outage a day), over 7 and 90 days, against the baseline of reading the fighter's events page by page.
 */
export async function benchUptime(stack: BenchStack, sizes: UptimeSizes): Promise<BenchOutcome> {
  const start = BENCH_T0 + 60 * DAY;
  let now = start;
  const { clients, config } = stack.runtime.ports;
  const { reconciler } = createReconcilerWiring(config, {
    ...clients,
    scheduler: { scheduleCheck: async (_deviceId, recheckAt) => recheckAt },
    clock: { now: () => now },
  });
  const fighter = 'bench-uptime-fighter';
  const quiet = 'bench-uptime-quiet';
  // Each day: the fighter's takeovers (a connected event of the new session, then the old one's disconnect), and
  // the quiet device's outage.
  const days: DeviceEvent[][] = [];
  for (let day = 0; day < sizes.days; day += 1) {
    const dayStart = start + day * DAY;
    const fights = Array.from({ length: sizes.takeoversPerDay }, (_, v) => {
      const version = day * sizes.takeoversPerDay + v;
      const at = dayStart + v * 20_000;
      return [
        connectedEvent({
          deviceId: fighter,
          sessionIdentifier: 'S',
          versionNumber: version + 1,
          receivedAt: at,
        }),
        disconnectedEvent({
          deviceId: fighter,
          sessionIdentifier: 'S',
          versionNumber: version,
          receivedAt: at + 300,
          disconnectReason: 'DUPLICATE_CLIENTID',
        }),
      ];
    }).flat();
    const session = `q${day}`;
    days.push([
      ...fights,
      connectedEvent({
        deviceId: quiet,
        sessionIdentifier: session,
        versionNumber: 0,
        receivedAt: dayStart + 3_600_000,
      }),
      disconnectedEvent({
        deviceId: quiet,
        sessionIdentifier: session,
        versionNumber: 0,
        receivedAt: dayStart + 20 * 3_600_000,
        disconnectReason: 'CONNECTION_LOST',
      }),
    ]);
  }
  const events = days.flat().filter((event) => event.deviceId === fighter).length;
  // The event log holds every event (the baseline reads it), appended as the ingest functions do, 16 at a time.
  const appendFailures = await forEachWithLimit(days.flat(), 16, async (event) => {
    await stack.runtime.ports.eventLog.append(event);
  });
  if (appendFailures.length > 0) throw appendFailures[0]?.error;
  // Folded day by day in the stream's batches (up to 100 records of a device, in order), as reconcileEvents does.
  for (const dayEvents of days) {
    for (const deviceId of [fighter, quiet]) {
      const own = dayEvents.filter((event) => event.deviceId === deviceId);
      for (let from = 0; from < own.length; from += STREAM_BATCH) {
        const batch = own.slice(from, from + STREAM_BATCH);
        now = Math.max(now, ...batch.map((event) => event.receivedAt));
        await reconciler.reconcile(deviceId, batch);
      }
    }
  }
  now = start + sizes.days * DAY - 60_000;
  await stack.timers.advanceTo(now);
  await reconciler.reconcile(fighter, []);
  await reconciler.reconcile(quiet, []);

  const uptime = stack.runtime.handlers.deviceUptime as ApiHandler;
  const to = new Date(now).toISOString().slice(0, 10);
  const from7 = new Date(now - 6 * DAY).toISOString().slice(0, 10);
  const from90 = new Date(now - 89 * DAY).toISOString().slice(0, 10);
  stack.meter.capacity.enabled = true;
  try {
    const read = async (deviceId: string, from: string) => {
      const stop = stack.meter.start();
      const response = await uptime(
        apiEvent(`/devices/${deviceId}/uptime`, { deviceId }, { from, to }),
        lambdaContext('deviceUptime'),
      );
      const measured = stop();
      if (response.statusCode !== 200)
        throw new Error(`uptime answered ${response.statusCode}: ${response.body}`);
      const body = JSON.parse(response.body) as { outages: number };
      return { requests: measured.dynamodb, readUnits: round(measured.readUnits, 2), outages: body.outages };
    };
    const fighter7 = await read(fighter, from7);
    const fighter90 = await read(fighter, from90);
    const quiet7 = await read(quiet, from7);
    const quiet90 = await read(quiet, from90);
    // Baseline: the fighter's events, page by page.
    const listEvents = stack.runtime.handlers.listDeviceEvents as ApiHandler;
    const stopEvents = stack.meter.start();
    let cursor: string | undefined;
    do {
      const response = await listEvents(
        apiEvent(
          `/devices/${fighter}/events`,
          { deviceId: fighter },
          { limit: '100', ...(cursor ? { cursor } : {}) },
        ),
        lambdaContext('listDeviceEvents'),
      );
      cursor = (JSON.parse(response.body) as { cursor: string | null }).cursor ?? undefined;
    } while (cursor);
    const eventWalk = stopEvents();
    const reads = [fighter7, fighter90, quiet7, quiet90];
    const pass =
      reads.every((r) => r.requests <= 3) &&
      fighter90.requests === quiet90.requests &&
      quiet7.outages === Math.min(7, sizes.days);
    return {
      figures: {
        days: sizes.days,
        fighterEvents: events,
        fighter7Days: fighter7,
        fighter90Days: fighter90,
        quiet7Days: quiet7,
        quiet90Days: quiet90,
        fighterEventWalk: { requests: eventWalk.dynamodb, readUnits: round(eventWalk.readUnits, 1) },
      },
      summary: [
        `fighter (${events} events over ${sizes.days} days): 7 days ${fighter7.requests} req ${fmt(fighter7.readUnits, 2)} RRU, 90 days ${fighter90.requests} req ${fmt(fighter90.readUnits, 2)} RRU`,
        `quiet device: 7 days ${quiet7.requests} req ${fmt(quiet7.readUnits, 2)} RRU, 90 days ${quiet90.requests} req; reading the fighter's events: ${eventWalk.dynamodb} req`,
      ],
      ratio: round(fighter90.requests / Math.max(1, eventWalk.dynamodb), 4),
      ratioMeaning:
        'DynamoDB requests of a 90-day uptime report of the fighter / those of reading its events',
      budget: '<= 3 requests per report whatever the events; the same for a fighter and a quiet device',
      pass,
      notes: [
        'One GetItem of the device record and one Query of at most one saved day per day asked, plus one.',
      ],
    };
  } finally {
    stack.meter.capacity.enabled = false;
  }
}
