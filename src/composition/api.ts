import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock } from '../adapters/clock.js';
import { HmacCursorCodec } from '../adapters/cursor-codec.js';
import { DynamoDbAlertLedger } from '../adapters/dynamodb/alert-ledger.js';
import { DynamoDbEventLog } from '../adapters/dynamodb/event-log.js';
import { DynamoDbFleetCounters } from '../adapters/dynamodb/fleet-counters.js';
import { DynamoDbFleetIncidents } from '../adapters/dynamodb/fleet-incidents.js';
import { DynamoDbUptimeDays } from '../adapters/dynamodb/uptime-days.js';
import { createDynamoDbClient } from '../adapters/dynamodb-client.js';
import { type Config, productionConfig } from '../config.js';
import type { Clock } from '../domain/ports.js';
import type {
  AlertQueries,
  DeviceQueries,
  EventQueries,
  FleetQueries,
  IncidentQueries,
  UptimeDayQueries,
} from '../domain/queries.js';
import type { CursorCodec } from '../handlers/shared/paging.js';
import { createDeviceStore } from './device-store.js';

/** What the read API functions use: the domain's query ports over DynamoDB, and the cursor codec. */
export interface ApiWiring {
  clock: Clock;
  devices: DeviceQueries;
  fleet: FleetQueries;
  eventLog: EventQueries;
  ledger: AlertQueries;
  incidents: IncidentQueries;
  uptimeDays: UptimeDayQueries;
  cursors: CursorCodec;
  /** W: how long a disconnection lasts before it is an outage. */
  settleWindowMs: number;
}

export function createApiWiring(
  config: Config,
  { dynamo, clock = systemClock }: { dynamo: DynamoDBDocumentClient; clock?: Clock },
): ApiWiring {
  const devices = createDeviceStore(config, dynamo);
  return {
    clock,
    devices,
    fleet: new DynamoDbFleetCounters(dynamo, config.DEVICES_TABLE),
    eventLog: new DynamoDbEventLog(dynamo, config.EVENTS_TABLE, config.EVENT_TTL_DAYS),
    ledger: new DynamoDbAlertLedger(dynamo, config.ALERTS_TABLE, config.ALERT_TTL_DAYS),
    incidents: new DynamoDbFleetIncidents(dynamo, config.ALERTS_TABLE),
    uptimeDays: new DynamoDbUptimeDays(dynamo, config.UPTIME_TABLE, config.UPTIME_TTL_DAYS),
    cursors: new HmacCursorCodec(config.CURSOR_SIGNING_KEY),
    settleWindowMs: config.SETTLE_WINDOW_SECONDS * 1000,
  };
}

let production: ApiWiring | undefined;

/** The wiring of a deployed API function, built once per cold start. */
export function productionApiWiring(): ApiWiring {
  production ??= createApiWiring(productionConfig(), { dynamo: createDynamoDbClient() });
  return production;
}
