import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DeviceEvent } from '../../domain/device-events.js';
import type { EventLog } from '../../domain/ports.js';
import type { EventQueries, Page, PageRequest, StoredEvent } from '../../domain/queries.js';
import { ttlExpiry } from './ttl.js';

/** Sort key: event time first so the log reads newest first, then the event's identity. */
export function eventKey(event: DeviceEvent): string {
  const time = 'timestamp' in event ? event.timestamp : event.receivedAt;
  return `${String(Math.max(0, Math.trunc(time))).padStart(15, '0')}#${event.eventId}`;
}

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
          Item: {
            deviceId: event.deviceId,
            eventKey: eventKey(event),
            kind: event.kind,
            receivedAt: event.receivedAt,
            event: JSON.stringify(event),
            raw,
            expiresAt: ttlExpiry(event.receivedAt, this.ttlDays),
          },
          ConditionExpression: 'attribute_not_exists(eventKey)',
        }),
      );
      return 'stored';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'duplicate';
      throw error;
    }
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
        ExclusiveStartKey: page.after,
      }),
    );
    return {
      items: (result.Items ?? []).map((item) => ({
        event: JSON.parse(String(item.event)) as DeviceEvent,
        raw: typeof item.raw === 'string' ? item.raw : undefined,
      })),
      next: result.LastEvaluatedKey,
    };
  }
}
