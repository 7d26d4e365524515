import { DynamoDbUptimeDays } from '../src/adapters/dynamodb/uptime-days.js';
import { SnsAlertPublisher } from '../src/adapters/sns-alert-publisher.js';
import { ConcurrentUpdateError } from '../src/domain/errors.js';
import { Reconciler } from '../src/domain/reconciler.js';
import { forEachWithLimit } from '../src/shared/concurrency.js';
import { connected, pendingOutageCommit } from './fleet.js';
import { type BenchStack, type Measured, receiveAllAlerts } from './stack.js';
import { type BenchOutcome, fmt, progress, round } from './support.js';

export interface AlertSizes {
  devices: number;
  concurrentReconcilers: number;
}

interface GroupResult {
  label: string;
  reconcilersPerDevice: number;
  devices: number;
  expectedAlerts: number;
  received: number;
  unique: number;
  duplicates: number;
  missing: number;
  unexpected: number;
  concurrentUpdateErrors: number;
  measured: Measured;
}

/**
 * One group of devices, each with an outage past W and then a recovery: `reconcilers` concurrent
 * reconciler.reconcile() calls per device for the offline decision, then as many carrying the recovery's connected
 * event (as concurrent stream invocations would).
 */
async function runGroup(
  stack: BenchStack,
  label: string,
  devices: number,
  reconcilers: number,
): Promise<GroupResult> {
  const { runtime, timers, meter } = stack;
  const { ports } = runtime;
  // A group goes offline at once, which is a fleet outage too: its placement is the fleet-alerts entry's cost, so
  // this entry's reconciler (the deployed one but for its fleet tracker) publishes device alerts without placing them.
  const { config, clients } = ports;
  const reconciler = new Reconciler({
    store: ports.devices,
    events: ports.eventLog,
    history: ports.ledger,
    publisher: new SnsAlertPublisher(clients.sns, config.ALERT_TOPIC_ARN),
    scheduler: { scheduleCheck: (deviceId, recheckAt) => runtime.scheduleCheck(deviceId, recheckAt) },
    outboxes: ports.devices,
    uptimeDays: new DynamoDbUptimeDays(clients.dynamo, config.UPTIME_TABLE, config.UPTIME_TTL_DAYS),
    clock: ports.clock,
    settings: ports.settings,
  });
  const W = ports.settings.settleWindowMs;
  await timers.runUntilIdle();
  await receiveAllAlerts(stack);
  const start = timers.now();
  const ids = Array.from({ length: devices }, (_, i) => `alert-${label}-${i}`);
  // Every device's session ended abruptly at `start`; its delayed check was lost (nothing is scheduled).
  const seeded = await forEachWithLimit(ids, 8, async (id) => {
    const result = await ports.devices.commit(pendingOutageCommit(id, start, ports.settings));
    if (result.status !== 'committed') throw new Error(`${id}: could not seed`);
  });
  if (seeded.length > 0) throw seeded[0]?.error;
  await timers.advanceTo(start + W + 1_000);

  let concurrentUpdateErrors = 0;
  const race = async (work: () => Promise<unknown>) => {
    const settled = await Promise.allSettled(Array.from({ length: reconcilers }, work));
    for (const outcome of settled) {
      if (outcome.status === 'rejected') {
        if (outcome.reason instanceof ConcurrentUpdateError) concurrentUpdateErrors += 1;
        else throw outcome.reason;
      }
    }
  };
  // A few devices at a time, `reconcilers` calls on each device at once.
  const deviceParallelism = Math.max(1, Math.floor(32 / reconcilers));
  const stop = meter.start();
  const offline = await forEachWithLimit(ids, deviceParallelism, (id) =>
    race(() => reconciler.reconcile(id)),
  );
  if (offline.length > 0) throw offline[0]?.error;
  await timers.advanceTo(start + W + 300_000);
  const recoveryAt = timers.now();
  const online = await forEachWithLimit(ids, deviceParallelism, (id) =>
    race(() => reconciler.reconcile(id, [connected(id, `${id}-s2`, 2, recoveryAt)])),
  );
  if (online.length > 0) throw online[0]?.error;
  const measured = stop();

  // A group that goes offline at once is a fleet outage too: its fleet alerts (no deviceId) are fleet-alerts' entry.
  const received = (await receiveAllAlerts(stack)).filter(
    (alert) => typeof alert.deviceId === 'string' && alert.deviceId.startsWith(`alert-${label}-`),
  );
  const expected = new Set(ids.flatMap((id) => [`${id}/offline/${id}-s1/1`, `${id}/online/${id}-s2/2`]));
  const seen = new Set(received.map((alert) => alert.alertId));
  return {
    label,
    reconcilersPerDevice: reconcilers,
    devices,
    expectedAlerts: expected.size,
    received: received.length,
    unique: seen.size,
    duplicates: received.length - seen.size,
    missing: [...expected].filter((id) => !seen.has(id)).length,
    unexpected: [...seen].filter((id) => !expected.has(id)).length,
    concurrentUpdateErrors,
    measured,
  };
}

function perAlert(group: GroupResult) {
  const { requests } = group.measured;
  const alerts = Math.max(1, group.unique);
  const of = (key: string) => round((requests[key] ?? 0) / alerts, 3);
  const publish = requests['sns.PublishCommand'] ?? 0;
  // Each decision is one device write (the state, with the alert in its outbox), and a finished UTC day of uptime is
  // one put of its own (under 1 KB: one write unit each); every other put is on the alert path: the history entry (the
  // outbox is left to the device's next write).
  const uptimeDayPuts = Object.entries(group.measured.writeUnitsBy)
    .filter(([where]) => where.endsWith('-uptime'))
    .reduce((sum, [, units]) => sum + units, 0);
  const alertPathPuts = Math.max(0, (requests['dynamodb.PutItemCommand'] ?? 0) - alerts - uptimeDayPuts);
  return {
    alertPath: round((alertPathPuts + publish) / alerts, 3),
    total: round((group.measured.dynamodb + group.measured.sns + group.measured.sqs) / alerts, 3),
    publish: of('sns.PublishCommand'),
    historyPuts: round(alertPathPuts / alerts, 3),
    uptimeDayPuts: round(uptimeDayPuts / alerts, 3),
    loads: of('dynamodb.GetItemCommand'),
    plainPuts: of('dynamodb.PutItemCommand'),
    writeUnits: round(group.measured.awsWriteUnits / alerts, 2),
    writeUnitsBy: Object.fromEntries(
      Object.entries(group.measured.writeUnitsBy).map(([where, units]) => [
        where.replace(/^[^-]*-/, ''),
        round(units / alerts, 2),
      ]),
    ),
    readUnits: round(group.measured.readUnits / alerts, 2),
  };
}

/**
 * Requests per alert end to end (the state write that puts it in the outbox, SNS publish, history entry), first with
 * one reconciler per decision, then exactly-once with `concurrentReconcilers` concurrent reconcilers on each device.
 */
export async function benchAlerts(stack: BenchStack, sizes: AlertSizes): Promise<BenchOutcome> {
  stack.meter.capacity.enabled = true;
  let single: GroupResult;
  let concurrent: GroupResult;
  try {
    single = await runGroup(stack, 'single', sizes.devices, 1);
    progress(`alerts: one reconciler: ${single.unique} alerts, ${single.duplicates} duplicates`);
    concurrent = await runGroup(stack, 'concurrent', sizes.devices, sizes.concurrentReconcilers);
    progress(
      `alerts: ${sizes.concurrentReconcilers} reconcilers: ${concurrent.unique} alerts, ${concurrent.duplicates} duplicates`,
    );
  } finally {
    stack.meter.capacity.enabled = false;
  }
  const singleCost = perAlert(single);
  const concurrentCost = perAlert(concurrent);
  const exact = (g: GroupResult) => g.duplicates === 0 && g.missing === 0 && g.unexpected === 0;
  const ratio = (concurrent.unique - concurrent.duplicates) / concurrent.expectedAlerts;
  const strip = ({ measured, ...rest }: GroupResult) => ({ ...rest, requests: measured.requests });
  return {
    figures: {
      oneReconciler: { ...strip(single), perAlert: singleCost },
      concurrentReconcilers: { ...strip(concurrent), perAlert: concurrentCost },
    },
    summary: [
      `${fmt(singleCost.alertPath, 2)} req/alert on the alert path (publish ${fmt(singleCost.publish, 2)} + history ${fmt(singleCost.historyPuts, 2)}), ${fmt(singleCost.total, 2)} with the state read and write`,
      `${sizes.concurrentReconcilers} concurrent reconcilers x ${sizes.devices} devices: ${concurrent.received} received / ${concurrent.expectedAlerts} expected, duplicates ${concurrent.duplicates}, missing ${concurrent.missing}`,
      `under contention: ${fmt(concurrentCost.total, 2)} req/alert (${fmt(concurrentCost.alertPath, 2)} alert path)`,
    ],
    ratio: round(ratio, 3),
    ratioMeaning: 'alerts received exactly once ÷ alerts owed, under concurrent reconcilers',
    budget: 'ratio = 1 (0 duplicates, 0 missing); <= 3 alert-path requests per alert',
    pass: exact(single) && exact(concurrent) && singleCost.alertPath <= 3,
    notes: [
      'alerts counted from the SQS queue subscribed to the SNS topic (runtime.receiveAlerts())',
      `${concurrent.concurrentUpdateErrors} reconcile calls gave up with ConcurrentUpdateError (retried by Lambda in AWS)`,
    ],
  };
}
