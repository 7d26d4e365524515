import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DISCONNECT_REASONS, LAST_WILL_REASON } from '../../domain/device-events.js';
import { type DeviceView, evaluateDevice } from '../../domain/evaluate.js';
import { countedAs } from '../../domain/fleet-counts.js';
import type {
  CommitResult,
  DeviceCommit,
  DeviceStore,
  OutboxFinder,
  StoredDevice,
} from '../../domain/ports.js';
import type {
  DeviceQueries,
  DeviceSummary,
  Page,
  PageRequest,
  UptimeStanding,
} from '../../domain/queries.js';
import type { PresenceSettings } from '../../domain/settings.js';
import * as z from '../../shared/zod.js';
import { pageKeySchema, readPageToken } from '../cursor-codec.js';
import { INDEX_SHARDS, shardOf } from '../shards.js';
import { readEach, readStored } from '../stored-records.js';
import { decodeDeviceRecord, encodeDeviceRecord } from './device-record.js';
import type { Key, KeyPage } from './paging.js';
import { queryEveryShard } from './sharded-query.js';

/** Where a listing by status stands: the shard of the status index, and the key to resume from within it. */
type StatusPosition = { shard: number; key?: Key };

const statusPositionSchema: z.ZodMiniType<StatusPosition> = z.object({
  shard: z.int().check(z.gte(0), z.lt(INDEX_SHARDS)),
  key: z.optional(pageKeySchema),
});

/** A summary as the status index holds it (written by `summaryAttributes`), checked when a listing reads it. */
const storedSummary = z.object({
  deviceId: z.string(),
  status: z.enum(['connected', 'disconnected']),
  since: z.number(),
  sessionIdentifier: z.string(),
  versionNumber: z.optional(z.nullable(z.number())),
  disconnectReason: z.optional(z.nullable(z.enum([...DISCONNECT_REASONS, LAST_WILL_REASON]))),
  // Summaries written before `settled` existed read as unsettled, as they always did.
  settled: z._default(z.boolean(), false),
});

/** What the status index and its listing read: the view's summary, never the whole view. */
function summaryAttributes(view: DeviceView | undefined, deviceId: string) {
  if (!view) return {};
  return {
    status: view.status,
    statusShard: `${view.status}#${shardOf(deviceId)}`,
    settled: view.settled,
    since: view.since,
    sessionIdentifier: view.sessionIdentifier,
    versionNumber: view.versionNumber,
    disconnectReason: view.disconnectReason,
  };
}

/**
 * One item per device: the record the reconciler folds (facts, alert cursor, outbox, next check) and the summary
 * the status index lists. The full view is derived from the record when it is read, so it is always current.
 */
export class DynamoDbDeviceStore implements DeviceStore, OutboxFinder, DeviceQueries {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly settings: PresenceSettings,
  ) {}

  async load(deviceId: string): Promise<StoredDevice | undefined> {
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.tableName, Key: { deviceId }, ConsistentRead: true }),
    );
    if (!Item) return undefined;
    return { ...decodeDeviceRecord(deviceId, Item.record), revision: Number(Item.revision) };
  }

  /**
   * One conditional PutItem: the record with its outbox, the summary the indexes read, and the kind the fleet
   * counts count the device as (the devices stream carries its old and new value to the counting function).
   */
  async commit(change: DeviceCommit): Promise<CommitResult> {
    const revision = (change.expectedRevision ?? 0) + 1;
    const leaseEnds = change.outbox.length > 0 ? Math.min(...change.outbox.map((e) => e.retryAt)) : undefined;
    const put = {
      TableName: this.tableName,
      Item: {
        deviceId: change.deviceId,
        revision,
        record: encodeDeviceRecord(change),
        // Sparse: only devices whose outbox holds alerts are in the unsent index.
        retryAt: leaseEnds,
        unsentShard: leaseEnds === undefined ? undefined : String(shardOf(change.deviceId)),
        countedAs: countedAs(change.view),
        ...summaryAttributes(change.view, change.deviceId),
      },
      ConditionExpression:
        change.expectedRevision === undefined ? 'attribute_not_exists(deviceId)' : 'revision = :expected',
      ExpressionAttributeValues:
        change.expectedRevision === undefined ? undefined : { ':expected': change.expectedRevision },
    };
    try {
      await this.dynamo.send(new PutCommand(put));
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

  /** The device as it stands at `now`, derived from its record (one eventually consistent GetItem). */
  async getView(deviceId: string, now: number): Promise<DeviceView | undefined> {
    return (await this.getUptimeStanding(deviceId, now))?.view;
  }

  async getUptimeStanding(deviceId: string, now: number): Promise<UptimeStanding | undefined> {
    const { Item } = await this.dynamo.send(new GetCommand({ TableName: this.tableName, Key: { deviceId } }));
    if (!Item) return undefined;
    const { facts, cursor } = decodeDeviceRecord(deviceId, Item.record);
    // Evaluated at `now`: edges settled since the last write count too.
    const evaluation = evaluateDevice(facts, cursor, now, this.settings);
    const uptime = evaluation.cursor?.uptime;
    return { ...(evaluation.view ? { view: evaluation.view } : {}), ...(uptime ? { uptime } : {}) };
  }

  /** Walks the shards of the status index in order: one query per page in the common case. */
  async listByStatus(status: DeviceView['status'], page: PageRequest): Promise<Page<DeviceSummary>> {
    let position: StatusPosition | undefined = page.after
      ? readPageToken(statusPositionSchema, page.after)
      : { shard: 0 };
    const items: DeviceSummary[] = [];
    while (position && items.length < page.limit) {
      const shardPage = await this.queryStatusShard(
        status,
        position.shard,
        page.limit - items.length,
        position.key,
      );
      items.push(...shardPage.items);
      position = shardPage.nextKey
        ? { shard: position.shard, key: shardPage.nextKey }
        : position.shard + 1 < INDEX_SHARDS
          ? { shard: position.shard + 1 }
          : undefined;
    }
    return { items, next: position };
  }

  /** One query on one shard of the status index. */
  private async queryStatusShard(
    status: DeviceView['status'],
    shard: number,
    limit: number,
    startKey?: Key,
  ): Promise<KeyPage<DeviceSummary>> {
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
      items: readEach(
        result.Items ?? [],
        (item) => {
          const { disconnectReason, versionNumber, ...summary } = readStored(
            storedSummary,
            `device summary ${String(item.deviceId)}`,
            item,
          );
          return {
            ...summary,
            ...(versionNumber == null ? {} : { versionNumber }),
            ...(disconnectReason == null ? {} : { disconnectReason }),
          };
        },
        (item) => ({ deviceId: item.deviceId }),
      ),
      nextKey: result.LastEvaluatedKey,
    };
  }
}
