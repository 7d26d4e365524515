import { fleetPartitionsOf } from '../src/adapters/dynamodb/fleet-incidents.js';
import { forEachWithLimit } from '../src/shared/concurrency.js';
import { connected, disconnected, seedIdleFleet, strandedAlertCommit } from './fleet.js';
import { type BenchStack, type Measured, receiveAllAlerts } from './stack.js';
import { type BenchOutcome, fmt, progress, round, timed } from './support.js';

/**
 * The sweep's Lambda time, in real milliseconds: the deployed 30 s is about 1,000 requests on a machine whose CPU
 * other jobs share; what this entry measures is requests, not time.
 */
const SWEEP_TIME = { timeoutMs: 600_000 };

export interface ReconcileSizes {
  fleets: number[];
  pendingDevices: number;
}

interface FleetMeasurement {
  idleDevices: number;
  seedSeconds: number;
  /** The sweep (rate 1 minute) when `pendingDevices` devices lost their delayed check. */
  sweep: PhaseFigures & { devicesSettled: number; alertsPublished: number };
  /** The sweep's and the settle path's devices' offline alerts found in the alert inbox, out of `pendingDevices` each. */
  offlineAlertsReceived: { settle: number; sweep: number };
  /** The sweep when nothing is due: what every minute costs in the steady state. */
  idleSweep: PhaseFigures;
  /** The delayed checks (settleCheck) of `pendingDevices` devices whose window closes. */
  settle: PhaseFigures & { alertsPublished: number };
}

interface PhaseFigures {
  dynamodbRequests: number;
  dynamodbReads: number;
  readUnits: number;
  /** Write units by AWS's rules (DynamoDB Local's transactional figure halved), indexes included. */
  writeUnits: number;
  snsRequests: number;
  ms: number;
  requests: Record<string, number>;
}

/**
 * The `i`th pending device of a round: a new id each round, on the same fleet-incident partitions in every round, so
 * that placing a round's alerts reads the same number of tallies whatever the round (a fleet incident is read as its
 * head plus the tallies of the partitions its devices were placed on).
 */
function samePartitions(kind: string, tag: string, i: number): string {
  const target = fleetPartitionsOf(`${kind}-${i}`);
  for (let k = 0; ; k += 1) {
    const id = `${kind}-${tag}-${i}-${k}`;
    if (fleetPartitionsOf(id) === target) return id;
  }
}

function phase(measured: Measured, ms: number): PhaseFigures {
  return {
    dynamodbRequests: measured.dynamodb,
    dynamodbReads: measured.dynamodbReads,
    readUnits: round(measured.readUnits, 1),
    writeUnits: round(measured.awsWriteUnits, 1),
    snsRequests: measured.sns,
    ms: round(ms, 1),
    requests: measured.requests,
  };
}

/**
 * The reconciler's settle and sweep paths with `pendingDevices` devices that have unsettled events, in fleets of
 * growing numbers of idle (settled, connected) devices. The idle devices are written with BatchWriteItem in the
 * exact item shape DynamoDbDeviceStore.commit() writes (captured from the adapter itself).
 */
export async function benchReconcile(stack: BenchStack, sizes: ReconcileSizes): Promise<BenchOutcome> {
  const { runtime, timers, meter, plainDynamo } = stack;
  const { ports } = runtime;
  const W = ports.settings.settleWindowMs;
  const fleets = [...sizes.fleets].sort((a, b) => a - b);
  const results: FleetMeasurement[] = [];
  let seeded = 0;
  meter.capacity.enabled = true;
  try {
    await runtime.receiveAlerts();
    for (const fleet of fleets) {
      // Seed the idle fleet up to `fleet` devices.
      const seedStarted = performance.now();
      const seedAt = timers.now();
      await seedIdleFleet(
        plainDynamo,
        ports.config.DEVICES_TABLE,
        { from: seeded, to: fleet },
        seedAt,
        ports.settings,
      );
      seeded = Math.max(seeded, fleet);
      const seedSeconds = (performance.now() - seedStarted) / 1000;
      progress(`reconcile: ${fleet} idle devices seeded (${fmt(seedSeconds, 1)} s)`);

      const now = timers.now();
      const tag = `f${fleet}`;
      const settleIds = Array.from({ length: sizes.pendingDevices }, (_, i) =>
        samePartitions('settle', tag, i),
      );
      const sweepIds = Array.from({ length: sizes.pendingDevices }, (_, i) =>
        samePartitions('sweep', tag, i),
      );
      // Settle path: the stream reconciles an abrupt end; the delayed check is scheduled (virtual delay queue).
      const setupFailures = await forEachWithLimit(settleIds, 8, async (id) => {
        const session = `${id}-s1`;
        await ports.reconciler.reconcile(id, [
          connected(id, session, 1, now - 60_000),
          disconnected(id, session, 1, now),
        ]);
      });
      // Retry path: an offline alert sits in each outbox, its publisher died; the check its write asked for at the
      // lease's end is what publishes it (the minute sweep only drains what an older version left in `unsent`).
      const leaseEnd = now + W + 1_000;
      const sweepFailures = await forEachWithLimit(sweepIds, 8, async (id) => {
        const result = await ports.devices.commit(strandedAlertCommit(id, leaseEnd, ports.settings));
        if (result.status !== 'committed') throw new Error(`${id}: could not seed a pending device`);
        await runtime.scheduleCheck(id, leaseEnd);
      });
      if (setupFailures.length + sweepFailures.length > 0)
        throw (setupFailures[0] ?? sweepFailures[0])?.error;

      // The window closes: the delayed checks fire (settleCheck handler) and each publishes an offline alert.
      let stop = meter.start();
      const settle = await timed(() => timers.advanceTo(now + W));
      const settleMeasured = stop();

      // A sweep with nothing overdue yet (the stranded alerts are still inside their publisher's lease).
      stop = meter.start();
      const idle = await timed(() => runtime.sweep(SWEEP_TIME));
      const idleMeasured = stop();

      // Past the lease: the checks at its end find the stranded outboxes and publish their alerts; then a sweep.
      stop = meter.start();
      const sweep = await timed(async () => {
        await timers.advanceTo(leaseEnd);
        await runtime.sweep(SWEEP_TIME);
      });
      const sweepMeasured = stop();
      const settledBySweep = sweepMeasured.requests['sns.PublishCommand'] ?? 0;
      // The device alerts each path owed (the fleet alerts of the round's outages aside).
      const received = await receiveAllAlerts(stack);
      const offlineOf = (ids: readonly string[]) =>
        received.filter((alert) => alert.type === 'offline' && ids.includes(String(alert.deviceId))).length;

      results.push({
        idleDevices: fleet,
        seedSeconds: round(seedSeconds, 1),
        settle: {
          ...phase(settleMeasured, settle.ms),
          alertsPublished: settleMeasured.requests['sns.PublishCommand'] ?? 0,
        },
        offlineAlertsReceived: { settle: offlineOf(settleIds), sweep: offlineOf(sweepIds) },
        idleSweep: phase(idleMeasured, idle.ms),
        sweep: {
          ...phase(sweepMeasured, sweep.ms),
          devicesSettled: settledBySweep,
          alertsPublished: sweepMeasured.requests['sns.PublishCommand'] ?? 0,
        },
      });
      progress(
        `reconcile: fleet ${fleet}: sweep ${sweepMeasured.dynamodb} DynamoDB requests, ${fmt(sweepMeasured.readUnits, 1)} RCU; settle ${settleMeasured.dynamodb} requests`,
      );
      // Every round starts from the same state but for the idle fleet: the round's devices come back, which closes
      // the fleet incidents their outage opened (an open incident is read by every offline alert placed later).
      await timers.advanceTo(now + W + 5 * 60_000);
      const backAt = timers.now();
      const recoveryFailures = await forEachWithLimit([...settleIds, ...sweepIds], 8, async (id) => {
        await ports.reconciler.reconcile(id, [connected(id, `${id}-s2`, 2, backAt)]);
      });
      if (recoveryFailures.length > 0) throw recoveryFailures[0]?.error;
      // Move on well past everything of this fleet; nothing else is pending.
      await timers.advanceTo(backAt + W + 10 * 60_000);
      await runtime.receiveAlerts();
    }
  } finally {
    meter.capacity.enabled = false;
  }

  const smallest = results[0] as FleetMeasurement;
  const largest = results[results.length - 1] as FleetMeasurement;
  // Read units are whole items' worth: which of a round's pending devices open its fleet incident (their counts in its
  // head) and which join it (their counts in tally groups, each group that holds one read for a unit by the sweeps)
  // follows the order the concurrent checks place them in, so one unit more or less is not growth.
  const growth = (pick: (m: FleetMeasurement) => number, granularity = 0) =>
    pick(smallest) === 0
      ? pick(largest) <= granularity
        ? 1
        : Number.POSITIVE_INFINITY
      : Math.max(pick(largest) - granularity, Math.min(pick(largest), pick(smallest))) / pick(smallest);
  const growths = {
    sweepRequests: growth((m) => m.sweep.dynamodbRequests),
    sweepReadUnits: growth((m) => m.sweep.readUnits, 1),
    idleSweepRequests: growth((m) => m.idleSweep.dynamodbRequests),
    idleSweepReadUnits: growth((m) => m.idleSweep.readUnits, 1),
    settleRequests: growth((m) => m.settle.dynamodbRequests),
    settleReadUnits: growth((m) => m.settle.readUnits, 1),
  };
  const ratio = Math.max(...Object.values(growths));
  const allSettled = results.every(
    (m) =>
      m.offlineAlertsReceived.settle === sizes.pendingDevices &&
      m.offlineAlertsReceived.sweep === sizes.pendingDevices,
  );
  const capacityReported = smallest.sweep.readUnits > 0;
  return {
    figures: {
      pendingDevices: sizes.pendingDevices,
      fleets: results,
      growthLargestOverSmallest: Object.fromEntries(
        Object.entries(growths).map(([k, v]) => [k, round(v, 3)]),
      ),
      everyPendingDeviceSettled: allSettled,
      capacitySource: capacityReported
        ? 'ConsumedCapacity (ReturnConsumedCapacity=INDEXES) as DynamoDB Local reports it; transactional writes halved to AWS rules'
        : 'DynamoDB Local returned no ConsumedCapacity: requests only',
    },
    summary: [
      ...results.map(
        (m) =>
          `${m.idleDevices.toLocaleString('en-US')} idle: sweep ${m.sweep.dynamodbRequests} req/${fmt(m.sweep.readUnits, 1)} RCU, idle sweep ${m.idleSweep.dynamodbRequests} req/${fmt(m.idleSweep.readUnits, 1)} RCU, settle ${m.settle.dynamodbRequests} req`,
      ),
      `${sizes.pendingDevices} pending devices per run; all settled: ${allSettled ? 'yes' : 'NO'}`,
    ],
    ratio: round(ratio, 3),
    ratioMeaning:
      'largest ÷ smallest fleet, worst of requests and read units (less one unit) of sweep, idle sweep and settle',
    budget: 'ratio <= 1.1 (no growth with the idle fleet)',
    pass: ratio <= 1.1 && allSettled,
    notes: [
      'sweep: the real sweep handler (findUnsent on the devices’ sharded unsent index, then reconcile and publish)',
      'settle: the settleCheck handler fired by the (virtual) delay queue',
      'idle devices seeded with BatchWriteItem in the exact shape DynamoDbDeviceStore.commit() writes',
      `the same ${sizes.pendingDevices} + ${sizes.pendingDevices} pending devices at every fleet size; each round's devices go offline together (a fleet outage) and come back before the next round, so that no round finds the open incident of the one before (every offline alert placed reads each open incident)`,
    ],
  };
}
