import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock } from '../adapters/clock.js';
import { DynamoDbEventLog } from '../adapters/dynamodb/event-log.js';
import { DynamoDbRejectionStore } from '../adapters/dynamodb/rejection-store.js';
import { createDynamoDbClient } from '../adapters/dynamodb-client.js';
import { type Config, productionConfig } from '../config.js';
import type { Clock } from '../domain/ports.js';

/** What the ingest functions use: the event log and the rejections, both in DynamoDB. */
export interface IngestWiring {
  config: Config;
  clock: Clock;
  eventLog: DynamoDbEventLog;
  rejections: DynamoDbRejectionStore;
}

export function createIngestWiring(
  config: Config,
  { dynamo, clock = systemClock }: { dynamo: DynamoDBDocumentClient; clock?: Clock },
): IngestWiring {
  return {
    config,
    clock,
    eventLog: new DynamoDbEventLog(dynamo, config.EVENTS_TABLE, config.EVENT_TTL_DAYS),
    rejections: new DynamoDbRejectionStore(dynamo, config.REJECTED_TABLE, config.EVENT_TTL_DAYS),
  };
}

let production: IngestWiring | undefined;

/** The wiring of a deployed ingest function, built once per cold start. */
export function productionIngestWiring(): IngestWiring {
  production ??= createIngestWiring(productionConfig(), { dynamo: createDynamoDbClient() });
  return production;
}
