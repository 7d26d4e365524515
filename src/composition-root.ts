import { type AwsClients, createAwsClients } from './adapters/aws-clients.js';
import { systemClock } from './adapters/clock.js';
import { CursorCodec } from './adapters/cursor-codec.js';
import { DynamoDbAlertLedger } from './adapters/dynamodb/alert-ledger.js';
import { DynamoDbDeviceStore } from './adapters/dynamodb/device-store.js';
import { DynamoDbEventLog } from './adapters/dynamodb/event-log.js';
import { DynamoDbRejectionStore } from './adapters/dynamodb/rejection-store.js';
import { logger } from './adapters/observability.js';
import { SnsAlertPublisher } from './adapters/sns-alert-publisher.js';
import { SqsCheckScheduler } from './adapters/sqs-check-scheduler.js';
import { type Config, parseConfig } from './config.js';
import type { CheckScheduler, Clock } from './domain/ports.js';
import { Reconciler } from './domain/reconciler.js';
import { DEFAULT_SETTINGS, type PresenceSettings } from './domain/settings.js';

/** Everything a handler may need, built once per cold start. */
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
  cursors: CursorCodec;
}

export interface PortOverrides {
  clock?: Clock;
  scheduler?: CheckScheduler;
  clients?: AwsClients;
}

export function settingsFrom(config: Config): PresenceSettings {
  return {
    ...DEFAULT_SETTINGS,
    settleWindowMs: config.SETTLE_WINDOW_SECONDS * 1000,
    alertOn: config.ALERT_ON,
    willMatchMs: config.WILL_MATCH_SECONDS * 1000,
    versionWindowMs: config.VERSION_WINDOW_SECONDS * 1000,
  };
}

/** The composition root: adapters are created here and handed to the domain. */
export function createPorts(config: Config, overrides: PortOverrides = {}): AppPorts {
  const clients = overrides.clients ?? createAwsClients();
  const clock = overrides.clock ?? systemClock;
  const settings = settingsFrom(config);
  const devices = new DynamoDbDeviceStore(
    clients.dynamo,
    config.DEVICES_TABLE,
    config.ALERTS_TABLE,
    config.ALERT_TTL_DAYS,
  );
  const ledger = new DynamoDbAlertLedger(clients.dynamo, config.ALERTS_TABLE);
  const reconciler = new Reconciler({
    store: devices,
    ledger,
    publisher: new SnsAlertPublisher(clients.sns, config.ALERT_TOPIC_ARN),
    scheduler: overrides.scheduler ?? new SqsCheckScheduler(clients.sqs, config.CHECK_QUEUE_URL),
    dueDevices: devices,
    clock,
    settings,
    onPublishFailure: (alert, error) =>
      logger.warn('alert publish failed; the sweep will retry it', {
        deviceId: alert.deviceId,
        sessionIdentifier: alert.sessionIdentifier,
        alertId: alert.alertId,
        error: error instanceof Error ? error.name : String(error),
      }),
  });
  return {
    config,
    clients,
    clock,
    settings,
    eventLog: new DynamoDbEventLog(clients.dynamo, config.EVENTS_TABLE, config.EVENT_TTL_DAYS),
    rejections: new DynamoDbRejectionStore(clients.dynamo, config.REJECTED_TABLE, config.EVENT_TTL_DAYS),
    devices,
    ledger,
    reconciler,
    cursors: new CursorCodec(config.CURSOR_SIGNING_KEY),
  };
}

let production: AppPorts | undefined;

/** The ports of a deployed function: configuration is read and validated once, at cold start. */
export function productionPorts(): AppPorts {
  production ??= createPorts(parseConfig(process.env));
  return production;
}
