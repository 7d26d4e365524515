import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { AlertHistory, AnyAlert } from '../../domain/ports.js';
import type { AlertQueries, FleetAlertPage, LedgerEntry, Page, PageRequest } from '../../domain/queries.js';
import * as z from '../../shared/zod.js';
import { pageKeySchema, readPageToken } from '../cursor-codec.js';
import { readEach } from '../stored-records.js';
import { alertKey, decodeLedgerEntry, encodeLedgerEntry, utcDay } from './ledger-entry.js';
import type { Key, KeyPage } from './paging.js';
import { ttlExpiry } from './ttl.js';

export { utcDay } from './ledger-entry.js';

const DAY_MS = 86_400_000;
/**
 * A fleet-wide page walks back over empty days within the one request, up to the alert retention and at most this
 * many days (each day is one small query), so that a page is empty only when no older alert can exist. With a
 * retention longer than this, a year without alerts ends the page early: its `searchedBackTo` says how far it read.
 */
const MAX_DAYS_PER_PAGE = 366;

/** Where a fleet-wide listing stands: the UTC day being read, and the key to resume from within it. */
type FleetPosition = { day: string; key?: Key };

const fleetPositionSchema: z.ZodMiniType<FleetPosition> = z.object({
  day: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/)),
  key: z.optional(pageKeySchema),
});

/**
 * The history of published alerts, written once per alert after SNS accepted it (the outbox that decided it lives
 * in the device record). Listed per device and per UTC day.
 */
export class DynamoDbAlertLedger implements AlertHistory<AnyAlert>, AlertQueries {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
  ) {}

  async record(alert: AnyAlert, publishedAt: number): Promise<void> {
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.tableName,
          Item: encodeLedgerEntry(alert, publishedAt, ttlExpiry(publishedAt, this.ttlDays)),
          ConditionExpression: 'attribute_not_exists(alertKey)',
        }),
      );
    } catch (error) {
      // Already recorded by an earlier publisher of the same alert.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async has(alert: AnyAlert): Promise<boolean> {
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

  /** The page token is the query's LastEvaluatedKey as it is. */
  async listForDevice(deviceId: string, page: PageRequest): Promise<Page<LedgerEntry>> {
    const result = await this.dynamo.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'byDeviceTime',
        KeyConditionExpression: 'deviceId = :d',
        ExpressionAttributeValues: { ':d': deviceId },
        ScanIndexForward: false,
        Limit: page.limit,
        ExclusiveStartKey: page.after && readPageToken(pageKeySchema, page.after),
      }),
    );
    // An entry that cannot be read is reported and left out of the page (its key still advances the cursor).
    return { items: readEach(result.Items ?? [], decodeLedgerEntry), next: result.LastEvaluatedKey };
  }

  /** Walks the byDay index back from today's UTC day, over empty days, as far as the retention reaches. */
  async listFleet(page: PageRequest, now: number): Promise<FleetAlertPage> {
    const oldestDay = utcDay(now - this.ttlDays * DAY_MS);
    let position: FleetPosition | undefined = page.after
      ? readPageToken(fleetPositionSchema, page.after)
      : { day: utcDay(now) };
    const items: LedgerEntry[] = [];
    let searchedBackTo: string | undefined;
    for (let days = 0; position && items.length < page.limit && days < MAX_DAYS_PER_PAGE; ) {
      const dayPage = await this.queryDay(position.day, page.limit - items.length, position.key);
      items.push(...dayPage.items);
      searchedBackTo = position.day;
      if (dayPage.nextKey) {
        position = { day: position.day, key: dayPage.nextKey };
      } else {
        const previousDay = utcDay(Date.parse(`${position.day}T00:00:00Z`) - DAY_MS);
        position = previousDay >= oldestDay ? { day: previousDay } : undefined;
        days += 1;
      }
    }
    return { items, next: position, searchedBackTo };
  }

  /** One query on one UTC day of the byDay index. */
  private async queryDay(day: string, limit: number, startKey?: Key): Promise<KeyPage<LedgerEntry>> {
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
    return { items: readEach(result.Items ?? [], decodeLedgerEntry), nextKey: result.LastEvaluatedKey };
  }
}
