import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbFleetCounters } from '../adapters/dynamodb/fleet-counters.js';
import { createDynamoDbClient } from '../adapters/dynamodb-client.js';
import { type Config, productionConfig } from '../config.js';
import type { FleetCountStore } from '../domain/ports.js';

/** What the counting function (the devices stream, in tumbling windows) uses: the counter items. */
export interface FleetCountWiring {
  counts: FleetCountStore;
}

export function createFleetCountWiring(
  config: Config,
  { dynamo }: { dynamo: DynamoDBDocumentClient },
): FleetCountWiring {
  return { counts: new DynamoDbFleetCounters(dynamo, config.DEVICES_TABLE) };
}

let production: FleetCountWiring | undefined;

/** The wiring of the deployed counting function, built once per cold start. */
export function productionFleetCountWiring(): FleetCountWiring {
  production ??= createFleetCountWiring(productionConfig(), { dynamo: createDynamoDbClient() });
  return production;
}
