import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock } from '../adapters/clock.js';
import { DynamoDbAlertLedger } from '../adapters/dynamodb/alert-ledger.js';
import type { DynamoDbDeviceStore } from '../adapters/dynamodb/device-store.js';
import { DynamoDbEventLog } from '../adapters/dynamodb/event-log.js';
import { DynamoDbFleetIncidents } from '../adapters/dynamodb/fleet-incidents.js';
import { DynamoDbRejectionStore } from '../adapters/dynamodb/rejection-store.js';
import { DynamoDbUptimeDays } from '../adapters/dynamodb/uptime-days.js';
import { createDynamoDbClient } from '../adapters/dynamodb-client.js';
import { logger, metrics } from '../adapters/observability.js';
import { SnsAlertPublisher } from '../adapters/sns-alert-publisher.js';
import { createSnsClient } from '../adapters/sns-client.js';
import { SqsCheckScheduler } from '../adapters/sqs-check-scheduler.js';
import { createSqsClient } from '../adapters/sqs-client.js';
import { type Config, fleetRuleFrom, productionConfig, settingsFrom } from '../config.js';
import { returnedFrom } from '../domain/alerts.js';
import type { FleetRule } from '../domain/fleet-incidents.js';
import { type FleetIncidentStore, FleetTracker } from '../domain/fleet-tracker.js';
import type {
  AlertHistory,
  AlertPublisher,
  AnyAlert,
  CheckScheduler,
  Clock,
  DeviceStore,
  EventLog,
  OutboxFinder,
  UptimeDayStore,
} from '../domain/ports.js';
import { PUBLISH_LEASE_MS, Reconciler } from '../domain/reconciler.js';
import type { PresenceSettings } from '../domain/settings.js';
import { createDeviceStore } from './device-store.js';

/** What the reconciling functions (stream, settle check, sweep) use: the reconciler over DynamoDB, SNS and SQS. */
export interface ReconcilerWiring {
  config: Config;
  clock: Clock;
  settings: PresenceSettings;
  devices: DynamoDbDeviceStore;
  ledger: DynamoDbAlertLedger;
  rejections: DynamoDbRejectionStore;
  reconciler: Reconciler;
}

export interface ReconcilerClients {
  dynamo: DynamoDBDocumentClient;
  sns: SNSClient;
  /** Unused when a scheduler is given. */
  sqs?: SQSClient;
  scheduler?: CheckScheduler;
  clock?: Clock;
}

/** What the reconciler decides over: the domain's ports, whatever implements them (DynamoDB, SNS, SQS, or memory). */
export interface ReconcilerPorts {
  devices: DeviceStore & OutboxFinder;
  events: Pick<EventLog, 'storedFrom'>;
  ledger: AlertHistory<AnyAlert>;
  publisher: AlertPublisher<AnyAlert>;
  incidents: FleetIncidentStore;
  scheduler: CheckScheduler;
  uptimeDays: UptimeDayStore;
  clock: Clock;
  settings: PresenceSettings;
  rule: FleetRule;
}

/** The reconciler and its fleet tracker over `ports`, with the functions' logging and metrics. */
export function buildReconciler(ports: ReconcilerPorts): Reconciler {
  const { clock } = ports;
  const fleet = new FleetTracker({
    store: ports.incidents,
    history: ports.ledger,
    publisher: ports.publisher,
    clock,
    rule: ports.rule,
    leaseMs: PUBLISH_LEASE_MS,
    returned: async (deviceId, since) => returnedFrom((await ports.devices.load(deviceId))?.cursor, since),
    onPublishFailure: (alert, error) =>
      logger.warn('fleet alert publish failed; the sweep will retry it', {
        incidentId: alert.incidentId,
        alertId: alert.alertId,
        error: error instanceof Error ? error.name : String(error),
      }),
  });
  return new Reconciler({
    store: ports.devices,
    events: ports.events,
    history: ports.ledger,
    publisher: ports.publisher,
    fleet,
    scheduler: ports.scheduler,
    outboxes: ports.devices,
    uptimeDays: ports.uptimeDays,
    clock,
    settings: ports.settings,
    onPublishFailure: (alert, error) =>
      logger.warn('alert publish failed; the sweep will retry it', {
        deviceId: alert.deviceId,
        alertId: alert.alertId,
        error: error instanceof Error ? error.name : String(error),
      }),
    onUnexplainedWill: (deviceId, will) => {
      // Evidence only: kept in the event log, counted, and it changed nothing.
      logger.info('will with no presence end to explain it', { deviceId, willReceivedAt: will.receivedAt });
      metrics.addMetric('UnexplainedWills', MetricUnit.Count, 1);
    },
  });
}

export function createReconcilerWiring(config: Config, clients: ReconcilerClients): ReconcilerWiring {
  const clock = clients.clock ?? systemClock;
  const settings = settingsFrom(config);
  const devices = createDeviceStore(config, clients.dynamo);
  const ledger = new DynamoDbAlertLedger(clients.dynamo, config.ALERTS_TABLE, config.ALERT_TTL_DAYS);
  const scheduler =
    clients.scheduler ?? new SqsCheckScheduler(clients.sqs ?? createSqsClient(), config.CHECK_QUEUE_URL);
  const reconciler = buildReconciler({
    devices,
    events: new DynamoDbEventLog(clients.dynamo, config.EVENTS_TABLE, config.EVENT_TTL_DAYS),
    ledger,
    publisher: new SnsAlertPublisher(clients.sns, config.ALERT_TOPIC_ARN),
    incidents: new DynamoDbFleetIncidents(clients.dynamo, config.ALERTS_TABLE),
    scheduler,
    uptimeDays: new DynamoDbUptimeDays(clients.dynamo, config.UPTIME_TABLE, config.UPTIME_TTL_DAYS),
    clock,
    settings,
    rule: fleetRuleFrom(config),
  });
  return {
    config,
    clock,
    settings,
    devices,
    ledger,
    rejections: new DynamoDbRejectionStore(clients.dynamo, config.REJECTED_TABLE, config.EVENT_TTL_DAYS),
    reconciler,
  };
}

let production: ReconcilerWiring | undefined;

/** The wiring of a deployed reconciling function, built once per cold start. */
export function productionReconcilerWiring(): ReconcilerWiring {
  production ??= createReconcilerWiring(productionConfig(), {
    dynamo: createDynamoDbClient(),
    sns: createSnsClient(),
    sqs: createSqsClient(),
  });
  return production;
}
