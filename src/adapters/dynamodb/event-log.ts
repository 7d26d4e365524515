import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DeviceEvent } from '../../domain/device-events.js';
import type { EventLog } from '../../domain/ports.js';
import type { EventQueries, Page, PageRequest, StoredEvent } from '../../domain/queries.js';
import { pageKeySchema, readPageToken } from '../cursor-codec.js';
import { readEach } from '../stored-records.js';
import { decodeEventItem, encodeEventItem, eventKeyFrom } from './event-item.js';
import { queryPages } from './paging.js';
import { ttlExpiry } from './ttl.js';

export class DynamoDbEventLog implements EventLog, EventQueries {
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
          Item: encodeEventItem(event, raw, ttlExpiry(event.receivedAt, this.ttlDays)),
          ConditionExpression: 'attribute_not_exists(eventKey)',
        }),
      );
      return 'stored';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'duplicate';
      throw error;
    }
  }

  /** Read eventually consistent: what a check looks for was stored a settle window or more before. */
  async storedFrom(deviceId: string, from: number): Promise<DeviceEvent[]> {
    const { items } = await queryPages(this.dynamo, {
      TableName: this.tableName,
      KeyConditionExpression: 'deviceId = :d AND eventKey >= :from',
      ExpressionAttributeValues: { ':d': deviceId, ':from': eventKeyFrom(from) },
    });
    return readEach(items, (item) => decodeEventItem(item).event);
  }

  /** The page token is the query's LastEvaluatedKey as it is. */
  async listNewestFirst(deviceId: string, page: PageRequest): Promise<Page<StoredEvent>> {
    const result = await this.dynamo.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'deviceId = :d',
        ExpressionAttributeValues: { ':d': deviceId },
        ScanIndexForward: false,
        Limit: page.limit,
        ExclusiveStartKey: page.after && readPageToken(pageKeySchema, page.after),
      }),
    );
    return {
      // An item that cannot be read is reported and left out of the page (its key still advances the cursor).
      items: readEach(result.Items ?? [], (item) => {
        const { event, raw } = decodeEventItem(item);
        return { event, raw };
      }),
      next: result.LastEvaluatedKey,
    };
  }
}
