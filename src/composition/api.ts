import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock } from '../adapters/clock.js';
import { HmacCursorCodec } from '../adapters/cursor-codec.js';
import { DynamoDbAlertLedger } from '../adapters/dynamodb/alert-ledger.js';
import { DynamoDbEventLog } from '../adapters/dynamodb/event-log.js';
import { DynamoDbFleetIncidents } from '../adapters/dynamodb/fleet-incidents.js';
import { createDynamoDbClient } from '../adapters/dynamodb-client.js';
import { type Config, productionConfig } from '../config.js';
import type { Clock } from '../domain/ports.js';
import type { AlertQueries, DeviceQueries, EventQueries, IncidentQueries } from '../domain/queries.js';
import type { CursorCodec } from '../handlers/shared/paging.js';
import { createDeviceStore } from './device-store.js';

/** What the read API functions use: the domain's query ports over DynamoDB, and the cursor codec. */
export interface ApiWiring {
  clock: Clock;
  devices: DeviceQueries;
  eventLog: EventQueries;
  ledger: AlertQueries;
  incidents: IncidentQueries;
  cursors: CursorCodec;
}

export function createApiWiring(
  config: Config,
  { dynamo, clock = systemClock }: { dynamo: DynamoDBDocumentClient; clock?: Clock },
): ApiWiring {
  return {
    clock,
    devices: createDeviceStore(config, dynamo),
    eventLog: new DynamoDbEventLog(dynamo, config.EVENTS_TABLE, config.EVENT_TTL_DAYS),
    ledger: new DynamoDbAlertLedger(dynamo, config.ALERTS_TABLE, config.ALERT_TTL_DAYS),
    incidents: new DynamoDbFleetIncidents(dynamo, config.ALERTS_TABLE),
    cursors: new HmacCursorCodec(config.CURSOR_SIGNING_KEY),
  };
}

let production: ApiWiring | undefined;

/** The wiring of a deployed API function, built once per cold start. */
export function productionApiWiring(): ApiWiring {
  production ??= createApiWiring(productionConfig(), { dynamo: createDynamoDbClient() });
  return production;
}
