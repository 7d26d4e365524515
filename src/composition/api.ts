import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock } from '../adapters/clock.js';
import { HmacCursorCodec } from '../adapters/cursor-codec.js';
import { DynamoDbAlertLedger } from '../adapters/dynamodb/alert-ledger.js';
import { DynamoDbDeviceStore } from '../adapters/dynamodb/device-store.js';
import { DynamoDbEventLog } from '../adapters/dynamodb/event-log.js';
import { createDynamoDbClient } from '../adapters/dynamodb-client.js';
import { type Config, productionConfig, settingsFrom } from '../config.js';
import type { Clock } from '../domain/ports.js';

/** What the read API functions use: the DynamoDB stores and the cursor codec. */
export interface ApiPorts {
  config: Config;
  clock: Clock;
  devices: DynamoDbDeviceStore;
  ledger: DynamoDbAlertLedger;
  eventLog: DynamoDbEventLog;
  cursors: HmacCursorCodec;
}

export function deviceStore(config: Config, dynamo: DynamoDBDocumentClient): DynamoDbDeviceStore {
  return new DynamoDbDeviceStore(dynamo, config.DEVICES_TABLE, settingsFrom(config));
}

export function createApiPorts(
  config: Config,
  { dynamo, clock = systemClock }: { dynamo: DynamoDBDocumentClient; clock?: Clock },
): ApiPorts {
  return {
    config,
    clock,
    devices: deviceStore(config, dynamo),
    ledger: new DynamoDbAlertLedger(dynamo, config.ALERTS_TABLE, config.ALERT_TTL_DAYS),
    eventLog: new DynamoDbEventLog(dynamo, config.EVENTS_TABLE, config.EVENT_TTL_DAYS),
    cursors: new HmacCursorCodec(config.CURSOR_SIGNING_KEY),
  };
}

let production: ApiPorts | undefined;

/** The ports of a deployed API function, built once per cold start. */
export function productionApiPorts(): ApiPorts {
  production ??= createApiPorts(productionConfig(), { dynamo: createDynamoDbClient() });
  return production;
}
