import { type AwsClients, createAwsClients } from './adapters/aws-clients.js';
import { systemClock } from './adapters/clock.js';
import type { DynamoDbAlertLedger } from './adapters/dynamodb/alert-ledger.js';
import type { DynamoDbDeviceStore } from './adapters/dynamodb/device-store.js';
import type { DynamoDbEventLog } from './adapters/dynamodb/event-log.js';
import type { DynamoDbRejectionStore } from './adapters/dynamodb/rejection-store.js';
import { createApiWiring } from './composition/api.js';
import { createFleetCountWiring } from './composition/fleet-counts.js';
import { createIngestWiring } from './composition/ingest.js';
import { createReconcilerWiring } from './composition/reconciler.js';
import type { Config } from './config.js';
import type { CheckScheduler, Clock, FleetCountStore } from './domain/ports.js';
import type { FleetQueries, IncidentQueries, UptimeDayQueries } from './domain/queries.js';
import type { Reconciler } from './domain/reconciler.js';
import type { PresenceSettings } from './domain/settings.js';
import type { CursorCodec } from './handlers/shared/paging.js';

/**
 * Everything any handler may need, over one set of clients (the local runtime, tests and benches), with the stores'
 * own types so that those can also seed and inspect them. A deployed function builds only its own wiring
 * (src/composition/<area>.ts, from src/functions/<name>.ts) so that its bundle holds only what it uses.
 */
export interface AppWiring {
  config: Config;
  clients: AwsClients;
  clock: Clock;
  settings: PresenceSettings;
  eventLog: DynamoDbEventLog;
  rejections: DynamoDbRejectionStore;
  devices: DynamoDbDeviceStore;
  ledger: DynamoDbAlertLedger;
  incidents: IncidentQueries;
  fleet: FleetQueries;
  /** Where the counting function applies its windows. */
  counts: FleetCountStore;
  uptimeDays: UptimeDayQueries;
  /** W, as the uptime report counts outages. */
  settleWindowMs: number;
  reconciler: Reconciler;
  cursors: CursorCodec;
}

export interface AppWiringOverrides {
  clock?: Clock;
  scheduler?: CheckScheduler;
  clients?: AwsClients;
}

/** The composition root: the per-function wirings over one set of clients. */
export function createAppWiring(config: Config, overrides: AppWiringOverrides = {}): AppWiring {
  const clients = overrides.clients ?? createAwsClients();
  const clock = overrides.clock ?? systemClock;
  const ingest = createIngestWiring(config, { dynamo: clients.dynamo, clock });
  const api = createApiWiring(config, { dynamo: clients.dynamo, clock });
  const reconciling = createReconcilerWiring(config, {
    ...clients,
    clock,
    ...(overrides.scheduler ? { scheduler: overrides.scheduler } : {}),
  });
  return {
    config,
    clients,
    clock,
    settings: reconciling.settings,
    eventLog: ingest.eventLog,
    rejections: ingest.rejections,
    devices: reconciling.devices,
    ledger: reconciling.ledger,
    incidents: api.incidents,
    fleet: api.fleet,
    counts: createFleetCountWiring(config, { dynamo: clients.dynamo }).counts,
    uptimeDays: api.uptimeDays,
    settleWindowMs: api.settleWindowMs,
    reconciler: reconciling.reconciler,
    cursors: api.cursors,
  };
}
