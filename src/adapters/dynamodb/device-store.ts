import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DeviceView } from '../../domain/evaluate.js';
import type {
  CommitResult,
  DeviceCommit,
  DeviceStore,
  DueDeviceFinder,
  StoredDevice,
} from '../../domain/ports.js';
import { shardOf } from '../shards.js';
import { decodeDeviceRecord, encodeDeviceRecord } from './device-record.js';
import type { Key, Page } from './paging.js';
import { queryEveryShard } from './sharded-query.js';

export type DeviceSummary = Pick<
  DeviceView,
  'deviceId' | 'status' | 'since' | 'sessionIdentifier' | 'versionNumber' | 'disconnectReason' | 'settled'
>;

function viewAttributes(view: DeviceView | undefined, deviceId: string) {
  if (!view) return {};
  return {
    status: view.status,
    statusShard: `${view.status}#${shardOf(deviceId)}`,
    settled: view.settled,
    since: view.since,
    sessionIdentifier: view.sessionIdentifier,
    versionNumber: view.versionNumber,
    disconnectReason: view.disconnectReason,
    abrupt: view.abrupt,
    lastWill: view.lastWill === undefined ? undefined : JSON.stringify(view.lastWill),
    lastWillAt: view.lastWillAt,
    lastEventAt: view.lastEventAt,
    lastConnectedAt: view.lastConnectedAt,
    lastDisconnectedAt: view.lastDisconnectedAt,
  };
}

function toView(item: Record<string, unknown>): DeviceView {
  return {
    deviceId: String(item.deviceId),
    status: item.status as DeviceView['status'],
    settled: Boolean(item.settled),
    since: Number(item.since),
    sessionIdentifier: String(item.sessionIdentifier),
    versionNumber: item.versionNumber as number | undefined,
    disconnectReason: item.disconnectReason as DeviceView['disconnectReason'],
    abrupt: item.abrupt as boolean | undefined,
    lastWill: typeof item.lastWill === 'string' ? JSON.parse(item.lastWill) : undefined,
    lastWillAt: item.lastWillAt as number | undefined,
    lastEventAt: item.lastEventAt as number | undefined,
    lastConnectedAt: item.lastConnectedAt as number | undefined,
    lastDisconnectedAt: item.lastDisconnectedAt as number | undefined,
  };
}

/** One item per device: the facts the reconciler folds, the alert cursor and outbox, and the view the API serves. */
export class DynamoDbDeviceStore implements DeviceStore, DueDeviceFinder {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async load(deviceId: string): Promise<StoredDevice | undefined> {
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.tableName, Key: { deviceId }, ConsistentRead: true }),
    );
    if (!Item) return undefined;
    return {
      ...decodeDeviceRecord(deviceId, Item.record),
      recheckAt: typeof Item.dueAt === 'number' ? Item.dueAt : undefined,
      revision: Number(Item.revision),
    };
  }

  /** One conditional PutItem: the record, the alert outbox and the attributes the indexes and the API read. */
  async commit(change: DeviceCommit): Promise<CommitResult> {
    const revision = (change.expectedRevision ?? 0) + 1;
    const shard = String(shardOf(change.deviceId));
    const leaseEnds = change.outbox.length > 0 ? Math.min(...change.outbox.map((e) => e.retryAt)) : undefined;
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            deviceId: change.deviceId,
            revision,
            record: encodeDeviceRecord({ facts: change.facts, cursor: change.cursor, outbox: change.outbox }),
            // The check index keeps its attribute names: dueAt is when the device must be evaluated again.
            dueAt: change.recheckAt,
            dueShard: change.recheckAt === undefined ? undefined : shard,
            // Sparse: only devices whose outbox holds alerts are in the unsent index.
            retryAt: leaseEnds,
            unsentShard: leaseEnds === undefined ? undefined : shard,
            ...viewAttributes(change.view, change.deviceId),
          },
          ConditionExpression:
            change.expectedRevision === undefined ? 'attribute_not_exists(deviceId)' : 'revision = :expected',
          ExpressionAttributeValues:
            change.expectedRevision === undefined ? undefined : { ':expected': change.expectedRevision },
        }),
      );
      return { status: 'committed', revision };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { status: 'conflict' };
      throw error;
    }
  }

  async findUnsent(before: number, limit: number): Promise<string[]> {
    const unsent = await queryEveryShard(this.dynamo, (shard) => ({
      TableName: this.tableName,
      IndexName: 'unsent',
      KeyConditionExpression: 'unsentShard = :s AND retryAt <= :before',
      ExpressionAttributeValues: { ':s': shard, ':before': before },
      Limit: limit,
    }));
    return unsent.map((item) => String(item.deviceId)).slice(0, limit);
  }

  /** Whether any outbox still holds an alert (one small query per shard). */
  async hasUnsent(): Promise<boolean> {
    const items = await queryEveryShard(this.dynamo, (shard) => ({
      TableName: this.tableName,
      IndexName: 'unsent',
      KeyConditionExpression: 'unsentShard = :s',
      ExpressionAttributeValues: { ':s': shard },
      Limit: 1,
    }));
    return items.length > 0;
  }

  async findDue(before: number, limit: number): Promise<string[]> {
    const due = await queryEveryShard(this.dynamo, (shard) => ({
      TableName: this.tableName,
      IndexName: 'dueChecks',
      KeyConditionExpression: 'dueShard = :s AND dueAt <= :before',
      ExpressionAttributeValues: { ':s': shard, ':before': before },
      Limit: limit,
    }));
    return due.map((item) => String(item.deviceId)).slice(0, limit);
  }

  async getView(deviceId: string): Promise<DeviceView | undefined> {
    const { Item } = await this.dynamo.send(new GetCommand({ TableName: this.tableName, Key: { deviceId } }));
    return Item?.status ? toView(Item) : undefined;
  }

  /** One query on one shard of the status index; the caller's cursor carries the shard. */
  async listByStatus(
    status: DeviceView['status'],
    shard: number,
    limit: number,
    startKey?: Key,
  ): Promise<Page<DeviceSummary>> {
    const result = await this.dynamo.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'byStatus',
        KeyConditionExpression: 'statusShard = :s',
        ExpressionAttributeValues: { ':s': `${status}#${shard}` },
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return {
      items: (result.Items ?? []).map((item) => ({
        deviceId: String(item.deviceId),
        status: item.status as DeviceView['status'],
        since: Number(item.since),
        sessionIdentifier: String(item.sessionIdentifier),
        versionNumber: typeof item.versionNumber === 'number' ? item.versionNumber : undefined,
        disconnectReason: item.disconnectReason as DeviceView['disconnectReason'],
        settled: Boolean(item.settled),
      })),
      nextKey: result.LastEvaluatedKey,
    };
  }
}
