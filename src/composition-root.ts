import { type AwsClients, createAwsClients } from './adapters/aws-clients.js';
import { systemClock } from './adapters/clock.js';
import type { HmacCursorCodec } from './adapters/cursor-codec.js';
import type { DynamoDbAlertLedger } from './adapters/dynamodb/alert-ledger.js';
import type { DynamoDbDeviceStore } from './adapters/dynamodb/device-store.js';
import type { DynamoDbEventLog } from './adapters/dynamodb/event-log.js';
import type { DynamoDbRejectionStore } from './adapters/dynamodb/rejection-store.js';
import { createApiPorts } from './composition/api.js';
import { createIngestPorts } from './composition/ingest.js';
import { createReconcilerPorts } from './composition/reconciler.js';
import { type Config, productionConfig } from './config.js';
import type { CheckScheduler, Clock } from './domain/ports.js';
import type { Reconciler } from './domain/reconciler.js';
import type { PresenceSettings } from './domain/settings.js';

export { settingsFrom } from './config.js';

/**
 * Everything any handler may need (the local runtime and tests). A deployed function imports only its own
 * composition (src/composition/ingest.ts, api.ts, reconciler.ts) so that its bundle holds only what it uses.
 */
export interface AppPorts {
  config: Config;
  clients: AwsClients;
  clock: Clock;
  settings: PresenceSettings;
  eventLog: DynamoDbEventLog;
  rejections: DynamoDbRejectionStore;
  devices: DynamoDbDeviceStore;
  ledger: DynamoDbAlertLedger;
  reconciler: Reconciler;
  cursors: HmacCursorCodec;
}

export interface PortOverrides {
  clock?: Clock;
  scheduler?: CheckScheduler;
  clients?: AwsClients;
}

/** The composition root: the per-function compositions over one set of clients. */
export function createPorts(config: Config, overrides: PortOverrides = {}): AppPorts {
  const clients = overrides.clients ?? createAwsClients();
  const clock = overrides.clock ?? systemClock;
  const ingest = createIngestPorts(config, { dynamo: clients.dynamo, clock });
  const api = createApiPorts(config, { dynamo: clients.dynamo, clock });
  const reconciling = createReconcilerPorts(config, {
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
    reconciler: reconciling.reconciler,
    cursors: api.cursors,
  };
}

let production: AppPorts | undefined;

/** Every port over the process's configuration, read and validated once. */
export function productionPorts(): AppPorts {
  production ??= createPorts(productionConfig());
  return production;
}
