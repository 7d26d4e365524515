import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { UptimeDayStore } from '../../domain/ports.js';
import type { UptimeDayQueries } from '../../domain/queries.js';
import { datesBetween, dayStart, type UptimeDay } from '../../domain/uptime.js';
import * as z from '../../shared/zod.js';
import { readEach, readStored } from '../stored-records.js';
import { queryPages } from './paging.js';
import { ttlExpiry } from './ttl.js';

const UPTIME_DAY_SCHEMA_VERSION = 1;

/** A day's figures, as the uptime table and the device record's cursor keep them. */
const uptimeDayFields = {
  date: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/)),
  startedConnected: z.optional(z.boolean()),
  endedConnected: z.optional(z.boolean()),
  connectedMs: z.number().check(z.gte(0)),
  disconnectedMs: z.number().check(z.gte(0)),
  outages: z.int().check(z.gte(0)),
  longestOutageMs: z.number().check(z.gte(0)),
};

const storedDay = z.object({ ...uptimeDayFields, schemaVersion: z.literal(UPTIME_DAY_SCHEMA_VERSION) });

/**
 * One item per device and UTC day in which its connectivity changed (key: deviceId, date), written when the day is
 * finished; a day in which nothing changed has no item and carries the state of the one before it.
 */
export class DynamoDbUptimeDays implements UptimeDayStore, UptimeDayQueries {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
  ) {}

  async save(deviceId: string, days: readonly UptimeDay[]): Promise<void> {
    // Usually one day; a put of the same figures again changes nothing.
    await Promise.all(
      days.map((day) =>
        this.dynamo.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              deviceId,
              ...day,
              schemaVersion: UPTIME_DAY_SCHEMA_VERSION,
              // Kept for the retention after the day's end.
              expiresAt: ttlExpiry(dayStart(day.date) + 86_400_000, this.ttlDays),
            },
          }),
        ),
      ),
    );
  }

  /**
   * The saved days from `from` to `to`, and the newest one before `from`: one query, newest first, of at most one
   * item per day asked and one more.
   */
  async savedDays(deviceId: string, from: string, to: string): Promise<UptimeDay[]> {
    const { items } = await queryPages(
      this.dynamo,
      {
        TableName: this.tableName,
        KeyConditionExpression: 'deviceId = :d AND #date <= :to',
        ExpressionAttributeNames: { '#date': 'date' },
        ExpressionAttributeValues: { ':d': deviceId, ':to': to },
        ScanIndexForward: false,
      },
      { limit: datesBetween(from, to).length + 1 },
    );
    const days = readEach(
      items,
      (item) => {
        const { schemaVersion: _v, ...day } = readStored(
          storedDay,
          `uptime ${deviceId} ${String(item.date)}`,
          item,
        );
        return day;
      },
      () => ({ deviceId }),
    );
    const oldestInRange = days.findLastIndex((day) => day.date >= from);
    return days.slice(0, oldestInRange + 2).reverse();
  }
}
