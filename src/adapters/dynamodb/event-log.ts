import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DeviceEvent } from '../../domain/device-events.js';
import type { EventLog } from '../../domain/ports.js';
import { readEach } from '../stored-records.js';
import { decodeEventItem, encodeEventItem } from './event-item.js';
import type { Page, PageRequest } from './paging.js';

export interface StoredEvent {
  event: DeviceEvent;
  raw?: string;
}

export class DynamoDbEventLog implements EventLog {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
  ) {}

  async append(event: DeviceEvent, raw?: string): Promise<'stored' | 'duplicate'> {
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.tableName,
          Item: encodeEventItem(event, raw, Math.floor(event.receivedAt / 1000) + this.ttlDays * 86_400),
          ConditionExpression: 'attribute_not_exists(eventKey)',
        }),
      );
      return 'stored';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'duplicate';
      throw error;
    }
  }

  async listNewestFirst(
    deviceId: string,
    page: PageRequest,
  ): Promise<Page<StoredEvent & { eventKey: string }>> {
    // An item that cannot be read is reported and left out of the page (its key still advances the cursor).
    const result = await this.dynamo.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'deviceId = :d',
        ExpressionAttributeValues: { ':d': deviceId },
        ScanIndexForward: false,
        Limit: page.limit,
        ExclusiveStartKey: page.startKey,
      }),
    );
    return {
      items: readEach(result.Items ?? [], decodeEventItem),
      nextKey: result.LastEvaluatedKey,
    };
  }
}
