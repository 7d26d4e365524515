import { DynamoDbFleetIncidents } from '../src/adapters/dynamodb/fleet-incidents.js';
import { SnsAlertPublisher } from '../src/adapters/sns-alert-publisher.js';
import { FleetTracker } from '../src/domain/fleet-tracker.js';
import { DEFAULT_FLEET_RULE } from '../src/domain/settings.js';
import { lambdaContext } from '../src/local/lambda-context.js';
import { stormAlert } from '../test/fixtures/storm-alerts.js';
import { apiEvent } from '../test/fixtures/virtual-runtime.js';
import { BENCH_T0, type BenchStack, type Measured } from './stack.js';
import { type BenchOutcome, fmt, round } from './support.js';

export interface FleetAlertSizes {
  /** Devices of the storm: each gets an offline and an online alert. */
  devices: number;
  /** GET /fleet calls measured. */
  fleetGets: number;
}

const perItem = (measured: Measured, items: number) => ({
  requests: round(measured.dynamodb / items, 2),
  readUnits: round(measured.readUnits / items, 2),
  writeUnits: round(measured.awsWriteUnits / items, 2),
  sns: round(measured.sns / items, 2),
});

/**
 * What placing a device alert may cost, in the units AWS bills: a membership or a recovery is one transaction, and a
 * return reads its incident's tallies. The full run's storm measured 3.01 WRU and 18.46 RRU a placement while a
 * return read the tallies with one BatchGetItem (4.68 requests).
 */
const PLACEMENT_BUDGET = { writeUnits: 3.5, readUnits: 10 };

/**
 * What fleet incidents cost: a storm of `devices` offline alerts and their returns, placed with the fleet tracker over
 * DynamoDB Local and published on the emulator, against the baseline of publishing and recording the same device
 * alerts without it; and GET /fleet against listing the same devices page by page.
 */
export async function benchFleetAlerts(stack: BenchStack, sizes: FleetAlertSizes): Promise<BenchOutcome> {
  const { clients, config, ledger } = stack.runtime.ports;
  const publisher = new SnsAlertPublisher(clients.sns, config.ALERT_TOPIC_ARN);
  let now = BENCH_T0 + 30 * 86_400_000;
  const tracker = new FleetTracker({
    store: new DynamoDbFleetIncidents(clients.dynamo, config.ALERTS_TABLE),
    history: ledger,
    publisher,
    clock: { now: () => now },
    rule: DEFAULT_FLEET_RULE,
    leaseMs: 30_000,
  });
  const offline = Array.from({ length: sizes.devices }, (_, i) => stormAlert('offline', i, now + i * 200));
  const online = Array.from({ length: sizes.devices }, (_, i) =>
    stormAlert('online', i, now + 900_000 + i * 200),
  );

  stack.meter.capacity.enabled = true;
  try {
    return await measureFleet();
  } finally {
    stack.meter.capacity.enabled = false;
  }

  async function measureFleet(): Promise<BenchOutcome> {
    // Baseline: what the same device alerts cost anyway (published and recorded once each).
    const stopBaseline = stack.meter.start();
    for (const alert of [...offline, ...online]) {
      const baselineAlert = {
        ...alert,
        alertId: `baseline/${alert.alertId}`,
        deviceId: `baseline-${alert.deviceId}`,
      };
      await publisher.publish(baselineAlert, now);
      await ledger.record(baselineAlert, now);
    }
    const baseline = stopBaseline();

    // The incident's whole life: every device alert placed, the outage and the recovery decided and published.
    const stopFleet = stack.meter.start();
    for (const alert of offline) await tracker.place(alert);
    now += 900_000;
    for (const alert of online) await tracker.place(alert);
    const fleet = stopFleet();
    const alerts = sizes.devices * 2;
    const fleetAlerts = fleet.sns;

    // GET /fleet, against listing both statuses of the fleet page by page.
    const handler = stack.runtime.handlers.fleet as (
      event: unknown,
      context: unknown,
    ) => Promise<{ statusCode: number }>;
    const stopGets = stack.meter.start();
    for (let i = 0; i < sizes.fleetGets; i += 1) {
      const response = await handler(apiEvent('/fleet'), lambdaContext('fleet'));
      if (response.statusCode !== 200) throw new Error(`GET /fleet answered ${response.statusCode}`);
    }
    const gets = stopGets();
    const listDevices = stack.runtime.handlers.listDevices as (
      event: unknown,
      context: unknown,
    ) => Promise<{ body: string }>;
    const stopListing = stack.meter.start();
    for (const status of ['connected', 'disconnected']) {
      let cursor: string | undefined;
      do {
        const response = await listDevices(
          apiEvent('/devices', {}, { status, limit: '100', ...(cursor ? { cursor } : {}) }),
          lambdaContext('listDevices'),
        );
        cursor = (JSON.parse(response.body) as { cursor: string | null }).cursor ?? undefined;
      } while (cursor);
    }
    const listing = stopListing();

    const perGet = perItem(gets, sizes.fleetGets);
    const overhead = perItem(fleet, alerts);
    const own = perItem(baseline, alerts);
    const ratio = round(perGet.requests / Math.max(1, listing.dynamodb), 4);
    const pass =
      perGet.requests <= 3 &&
      fleetAlerts === 2 &&
      overhead.writeUnits <= PLACEMENT_BUDGET.writeUnits &&
      overhead.readUnits <= PLACEMENT_BUDGET.readUnits;
    return {
      figures: {
        devices: sizes.devices,
        fleetAlertsPublished: fleetAlerts,
        perDeviceAlertPlaced: overhead,
        perDeviceAlertBaseline: own,
        perFleetAlert: perItem(fleet, Math.max(1, fleetAlerts)),
        incidentTotal: {
          requests: fleet.dynamodb,
          readUnits: round(fleet.readUnits, 1),
          writeUnits: round(fleet.awsWriteUnits, 1),
        },
        getFleet: perGet,
        fullListing: { requests: listing.dynamodb, readUnits: round(listing.readUnits, 1) },
      },
      summary: [
        `${sizes.devices}-device storm: ${fleetAlerts} fleet alerts; placing a device alert ${fmt(overhead.requests, 2)} req, ${fmt(overhead.writeUnits, 2)} WRU (its own publish+record: ${fmt(own.requests, 2)} req)`,
        `whole incident: ${fleet.dynamodb} req, ${fmt(fleet.awsWriteUnits, 1)} WRU, ${fmt(fleet.readUnits, 1)} RRU`,
        `GET /fleet: ${fmt(perGet.requests, 2)} req, ${fmt(perGet.readUnits, 2)} RRU; full listing: ${listing.dynamodb} req`,
      ],
      ratio,
      ratioMeaning: 'DynamoDB requests of GET /fleet / those of listing both statuses of the bench fleet',
      budget: `GET /fleet <= 3 requests whatever the fleet; one fleet-outage and one fleet-recovered; <= ${PLACEMENT_BUDGET.writeUnits} WRU and <= ${PLACEMENT_BUDGET.readUnits} RRU per device alert placed`,
      pass,
      notes: [
        'Placing is done once per device alert, before it is published; a membership or recovery is one transaction (counted at the AWS price of 2 WRU per KB and item).',
        "Placing is budgeted in the units AWS bills, not in requests: a return reads its incident's tallies with one Query per tally group, 20 in parallel (10 RRU), where one BatchGetItem of 99 tallies cost 49.5 RRU.",
      ],
    };
  }
}
