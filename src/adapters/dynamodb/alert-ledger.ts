import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Alert, AlertHistory } from '../../domain/ports.js';
import { readEach } from '../stored-records.js';
import { alertKey, decodeLedgerEntry, encodeLedgerEntry, type LedgerEntry } from './ledger-entry.js';
import type { Key, Page } from './paging.js';

export { utcDay } from './ledger-entry.js';

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
          Item: encodeLedgerEntry(alert, publishedAt, Math.floor(publishedAt / 1000) + this.ttlDays * 86_400),
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
    // An entry that cannot be read is reported and left out of the page (its key still advances the cursor).
    return { items: readEach(result.Items ?? [], decodeLedgerEntry), nextKey: result.LastEvaluatedKey };
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
    // An entry that cannot be read is reported and left out of the page (its key still advances the cursor).
    return { items: readEach(result.Items ?? [], decodeLedgerEntry), nextKey: result.LastEvaluatedKey };
  }
}
