import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { connectionName } from '../../domain/connection.js';
import type { Alert, AlertHistory } from '../../domain/ports.js';
import type { Key, Page } from './paging.js';

export interface LedgerEntry {
  alert: Alert;
  status: 'sent';
  publishedAt?: number;
}

export const utcDay = (epochMs: number) => new Date(epochMs).toISOString().slice(0, 10);

/** One ledger entry per device, alert type and connection (an episode: per time its rule was first met). */
export function alertKey(
  alert: Pick<Alert, 'type' | 'sessionIdentifier' | 'versionNumber' | 'since'>,
): string {
  return alert.type === 'offline' || alert.type === 'online'
    ? `${alert.type}#${connectionName(alert)}`
    : `${alert.type}#${alert.since}`;
}

function toEntry(item: Record<string, unknown>): LedgerEntry {
  return {
    alert: JSON.parse(String(item.alert)) as Alert,
    status: 'sent',
    publishedAt: item.publishedAt as number | undefined,
  };
}

/**
 * The history of published alerts, written once per alert after SNS accepted it (the outbox that decided it lives
 * in the device record). Listed per device and per UTC day.
 */
export class DynamoDbAlertLedger implements AlertHistory {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
  ) {}

  async record(alert: Alert, publishedAt: number): Promise<void> {
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            deviceId: alert.deviceId,
            alertKey: alertKey(alert),
            alertId: alert.alertId,
            type: alert.type,
            decidedAt: alert.decidedAt,
            day: utcDay(alert.decidedAt),
            status: 'sent',
            publishedAt,
            alert: JSON.stringify(alert),
            expiresAt: Math.floor(publishedAt / 1000) + this.ttlDays * 86_400,
          },
          ConditionExpression: 'attribute_not_exists(alertKey)',
        }),
      );
    } catch (error) {
      // Already recorded by an earlier publisher of the same alert.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async has(alert: Alert): Promise<boolean> {
    const { Item } = await this.dynamo.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { deviceId: alert.deviceId, alertKey: alertKey(alert) },
        ConsistentRead: true,
        ProjectionExpression: 'alertKey',
      }),
    );
    return Item !== undefined;
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
