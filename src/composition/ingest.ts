import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock } from '../adapters/clock.js';
import { DynamoDbEventLog } from '../adapters/dynamodb/event-log.js';
import { DynamoDbRejectionStore } from '../adapters/dynamodb/rejection-store.js';
import { createDynamoDbClient } from '../adapters/dynamodb-client.js';
import { type Config, productionConfig } from '../config.js';
import type { Clock } from '../domain/ports.js';

/** What the ingest functions use: the event log and the rejections, both in DynamoDB. */
export interface IngestPorts {
  config: Config;
  clock: Clock;
  eventLog: DynamoDbEventLog;
  rejections: DynamoDbRejectionStore;
}

export function createIngestPorts(
  config: Config,
  { dynamo, clock = systemClock }: { dynamo: DynamoDBDocumentClient; clock?: Clock },
): IngestPorts {
  return {
    config,
    clock,
    eventLog: new DynamoDbEventLog(dynamo, config.EVENTS_TABLE, config.EVENT_TTL_DAYS),
    rejections: new DynamoDbRejectionStore(dynamo, config.REJECTED_TABLE, config.EVENT_TTL_DAYS),
  };
}

let production: IngestPorts | undefined;

/** The ports of a deployed ingest function, built once per cold start. */
export function productionIngestPorts(): IngestPorts {
  production ??= createIngestPorts(productionConfig(), { dynamo: createDynamoDbClient() });
  return production;
}
