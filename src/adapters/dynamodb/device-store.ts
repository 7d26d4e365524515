import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DeviceView } from '../../domain/evaluate.js';
import type {
  CommitResult,
  DeviceCommit,
  DeviceStore,
  DueDeviceFinder,
  StoredDevice,
} from '../../domain/ports.js';
import { shardOf } from '../shards.js';
import { ledgerItem } from './alert-ledger.js';
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

/** One item per device: the facts the reconciler folds, the alert cursor, and the derived view the API serves. */
export class DynamoDbDeviceStore implements DeviceStore, DueDeviceFinder {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly alertsTableName: string,
    private readonly alertTtlDays: number,
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

  async commit(change: DeviceCommit): Promise<CommitResult> {
    const put = {
      TableName: this.tableName,
      Item: {
        deviceId: change.deviceId,
        revision: (change.expectedRevision ?? 0) + 1,
        record: encodeDeviceRecord({ facts: change.facts, cursor: change.cursor }),
        // The check index keeps its attribute names: dueAt is when the device must be evaluated again.
        dueAt: change.recheckAt,
        dueShard: change.recheckAt === undefined ? undefined : String(shardOf(change.deviceId)),
        updatedAt: change.now,
        ...viewAttributes(change.view, change.deviceId),
      },
      ConditionExpression:
        change.expectedRevision === undefined ? 'attribute_not_exists(deviceId)' : 'revision = :expected',
      ExpressionAttributeValues:
        change.expectedRevision === undefined ? undefined : { ':expected': change.expectedRevision },
    };
    if (change.alerts.length === 0) {
      try {
        await this.dynamo.send(new PutCommand(put));
        return { status: 'committed', newAlerts: [] };
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return { status: 'conflict' };
        throw error;
      }
    }
    let alerts = change.alerts;
    // The ledger entries go in the same transaction as the cursor that records them: both or neither.
    for (;;) {
      try {
        await this.dynamo.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: put },
              ...alerts.map((alert) => ({
                Put: {
                  TableName: this.alertsTableName,
                  Item: ledgerItem(alert, change.now, this.alertTtlDays),
                  ConditionExpression: 'attribute_not_exists(alertKey)',
                },
              })),
            ],
          }),
        );
        return { status: 'committed', newAlerts: alerts };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') return { status: 'conflict' };
        const alreadyRecorded = new Set(
          reasons.flatMap((reason, index) =>
            index > 0 && reason.Code === 'ConditionalCheckFailed' ? [index - 1] : [],
          ),
        );
        if (alreadyRecorded.size === 0) throw error;
        alerts = alerts.filter((_, index) => !alreadyRecorded.has(index));
        if (alerts.length === 0) {
          try {
            await this.dynamo.send(new PutCommand(put));
            return { status: 'committed', newAlerts: [] };
          } catch (putError) {
            if (putError instanceof ConditionalCheckFailedException) return { status: 'conflict' };
            throw putError;
          }
        }
      }
    }
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
