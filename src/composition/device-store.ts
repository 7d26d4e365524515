import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbDeviceStore } from '../adapters/dynamodb/device-store.js';
import { type Config, settingsFrom } from '../config.js';

/** The devices table, as both the API (reads) and the reconciler (reads and writes) use it. */
export function createDeviceStore(config: Config, dynamo: DynamoDBDocumentClient): DynamoDbDeviceStore {
  return new DynamoDbDeviceStore(dynamo, config.DEVICES_TABLE, settingsFrom(config));
}
