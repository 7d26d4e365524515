import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Alert, AlertLedger } from '../../domain/ports.js';
import { connectionName } from '../../domain/reconciler.js';
import { shardOf } from '../shards.js';
import type { Key, Page } from './paging.js';
import { queryEveryShard } from './sharded-query.js';

/** How long a publisher owns an unsent alert before someone else may retry it. */
export const PUBLISH_LEASE_MS = 30_000;

export interface LedgerEntry {
  alert: Alert;
  status: 'pending' | 'sent';
  publishedAt?: number;
}

export const utcDay = (epochMs: number) => new Date(epochMs).toISOString().slice(0, 10);

/** One ledger entry per device, alert type and connection. */
export function alertKey(alert: Pick<Alert, 'type' | 'sessionIdentifier' | 'versionNumber'>): string {
  return `${alert.type}#${connectionName(alert)}`;
}

export function ledgerItem(alert: Alert, now: number, ttlDays: number) {
  return {
    deviceId: alert.deviceId,
    alertKey: alertKey(alert),
    alertId: alert.alertId,
    type: alert.type,
    decidedAt: alert.decidedAt,
    day: utcDay(alert.decidedAt),
    status: 'pending',
    retryAt: now + PUBLISH_LEASE_MS,
    unsentShard: String(shardOf(alert.alertId)),
    alert: JSON.stringify(alert),
    expiresAt: Math.floor(now / 1000) + ttlDays * 86_400,
  };
}

function toEntry(item: Record<string, unknown>): LedgerEntry {
  return {
    alert: JSON.parse(String(item.alert)) as Alert,
    status: item.status === 'sent' ? 'sent' : 'pending',
    publishedAt: item.publishedAt as number | undefined,
  };
}

/** The outbox of alerts: written with the device's cursor, marked sent after SNS accepted the message. */
export class DynamoDbAlertLedger implements AlertLedger {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async markSent(alert: Alert, publishedAt: number): Promise<void> {
    await this.dynamo.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { deviceId: alert.deviceId, alertKey: alertKey(alert) },
        UpdateExpression: 'SET #status = :sent, publishedAt = :at REMOVE retryAt, unsentShard',
        ConditionExpression: 'attribute_exists(alertKey)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':sent': 'sent', ':at': publishedAt },
      }),
    );
  }

  async claimUnsent(now: number, limit: number): Promise<Alert[]> {
    const due = await queryEveryShard(this.dynamo, (shard) => ({
      TableName: this.tableName,
      IndexName: 'unsent',
      KeyConditionExpression: 'unsentShard = :s AND retryAt <= :now',
      ExpressionAttributeValues: { ':s': shard, ':now': now },
      Limit: limit,
    }));
    const claimed: Alert[] = [];
    for (const key of due.slice(0, limit)) {
      try {
        const { Attributes } = await this.dynamo.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { deviceId: key.deviceId, alertKey: key.alertKey },
            UpdateExpression: 'SET retryAt = :lease',
            ConditionExpression: '#status = :pending AND retryAt = :seen',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':lease': now + PUBLISH_LEASE_MS,
              ':pending': 'pending',
              ':seen': key.retryAt,
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        if (Attributes) claimed.push(toEntry(Attributes).alert);
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    return claimed;
  }

  /** Whether any alert still waits to be published (one small query per shard). */
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

  async listForDevice(deviceId: string, limit: number, startKey?: Key): Promise<Page<LedgerEntry>> {
    const result = await this.dynamo.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'byDeviceTime',
        KeyConditionExpression: 'deviceId = :d',
        ExpressionAttributeValues: { ':d': deviceId },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return { items: (result.Items ?? []).map(toEntry), nextKey: result.LastEvaluatedKey };
  }

  async listForDay(day: string, limit: number, startKey?: Key): Promise<Page<LedgerEntry>> {
    const result = await this.dynamo.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'byDay',
        KeyConditionExpression: '#day = :day',
        ExpressionAttributeNames: { '#day': 'day' },
        ExpressionAttributeValues: { ':day': day },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return { items: (result.Items ?? []).map(toEntry), nextKey: result.LastEvaluatedKey };
  }
}
