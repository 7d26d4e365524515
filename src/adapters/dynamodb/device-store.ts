import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
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
import { COUNTER_KEY_PREFIX } from '../../domain/reserved-ids.js';
import type { PresenceSettings } from '../../domain/settings.js';
import * as z from '../../shared/zod.js';
import { pageKeySchema, readPageToken } from '../cursor-codec.js';
import { INDEX_SHARDS, shardOf } from '../shards.js';
import { readEach } from '../stored-records.js';
import { decodeDeviceRecord, encodeDeviceRecord } from './device-record.js';
import type { Key, KeyPage } from './paging.js';
import { queryEveryShard } from './sharded-query.js';

/** Where the disconnected list stands: the shard of the settled-status index, and the key to resume from within it. */
type StatusPosition = { shard: number; key?: Key };

const statusPositionSchema: z.ZodMiniType<StatusPosition> = z.object({
  shard: z.int().check(z.gte(0), z.lt(INDEX_SHARDS)),
  key: z.optional(pageKeySchema),
});

/** Where the connected list stands: the table's key to resume the walk from. */
type WalkPosition = { walkFrom: { deviceId: string } };

const walkPositionSchema: z.ZodMiniType<WalkPosition> = z.strictObject({
  walkFrom: z.strictObject({ deviceId: z.string() }),
});

/** The settled-status index (infra/tables.json): keys only, partition-sharded like the others, disconnected only. */
const SETTLED_STATUS_INDEX = 'bySettledStatus';

/**
 * The settled-status index's key of a device listed as disconnected: `disconnected#<shard>`. A device listed as
 * connected has none: an outage puts one index item and a return deletes it, and no other change of the device
 * writes the index (it projects keys only).
 */
export const settledShardOf = (deviceId: string) => `disconnected#${shardOf(deviceId)}`;

/**
 * The list the item is in: its `listedAs`, or, for an item written while the index held both lists, its index key
 * (`connected#<shard>`, `disconnected#<shard>`); absent for an item written before either.
 */
const listedAsOf = (item: Record<string, unknown>): DeviceView['status'] | undefined => {
  if (item.listedAs === 'connected' || item.listedAs === 'disconnected') return item.listedAs;
  if (typeof item.settledShard !== 'string') return undefined;
  return item.settledShard.startsWith('disconnected#') ? 'disconnected' : 'connected';
};

/**
 * How many table pages one request of the connected list reads at most before it answers with what it found and a
 * cursor: while most of the fleet is out, most items a page reads are not in the list.
 */
const MAX_WALK_PAGES = 8;

/** How many device items one BatchGetItem may ask for. */
const BATCH_GET_LIMIT = 100;

/**
 * One item per device: the record the reconciler folds (facts, alert cursor, outbox, next check) and the key the
 * settled-status index lists it by. The view is derived from the record when it is read, so it is always current.
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
    const listedAs = listedAsOf(Item);
    return {
      ...decodeDeviceRecord(deviceId, Item.record),
      ...(listedAs ? { listedAs } : {}),
      revision: Number(Item.revision),
    };
  }

  /**
   * One conditional PutItem: the record with its outbox, the settled-status index's key, and the kind the fleet
   * counts count the device as (the devices stream carries its old and new value to the counting function).
   */
  async commit(change: DeviceCommit): Promise<CommitResult> {
    const revision = (change.expectedRevision ?? 0) + 1;
    const put = {
      TableName: this.tableName,
      Item: {
        deviceId: change.deviceId,
        revision,
        // The outbox's retry is carried by a check at its lease's end (reconciler.ts), not by an index: the unsent
        // index only holds items written before, which the sweep drains.
        record: encodeDeviceRecord(change),
        countedAs: countedAs(change.view),
        ...(change.listedAs ? { listedAs: change.listedAs } : {}),
        ...(change.listedAs === 'disconnected' ? { settledShard: settledShardOf(change.deviceId) } : {}),
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

  /**
   * The disconnected list walks the shards of the settled-status index in order (one keys-only query per page in the
   * common case), then reads the listed devices' records; the connected list is the rest of the table, read page by
   * page. Either is evaluated at `now`.
   */
  async listByStatus(
    status: DeviceView['status'],
    page: PageRequest,
    now: number,
  ): Promise<Page<DeviceSummary>> {
    if (status === 'connected') return this.listConnected(page, now);
    let position: StatusPosition | undefined = page.after
      ? readPageToken(statusPositionSchema, page.after)
      : { shard: 0 };
    const deviceIds: string[] = [];
    while (position && deviceIds.length < page.limit) {
      const shardPage = await this.queryStatusShard(
        position.shard,
        page.limit - deviceIds.length,
        position.key,
      );
      deviceIds.push(...shardPage.items);
      position = shardPage.nextKey
        ? { shard: position.shard, key: shardPage.nextKey }
        : position.shard + 1 < INDEX_SHARDS
          ? { shard: position.shard + 1 }
          : undefined;
    }
    return { items: await this.summaries(deviceIds, now), next: position };
  }

  /**
   * The devices not listed as disconnected, read from the table itself: the connected list is most of the fleet, so
   * a page reads little it does not return (its items' bytes, not 4 KB per item as a batch read would), and no index
   * item per connected device has to move on every outage and return.
   */
  private async listConnected(page: PageRequest, now: number): Promise<Page<DeviceSummary>> {
    let from = page.after ? readPageToken(walkPositionSchema, page.after).walkFrom : undefined;
    const items: Array<Record<string, unknown>> = [];
    for (let pages = 0; pages < MAX_WALK_PAGES && items.length < page.limit; pages += 1) {
      const result = await this.dynamo.send(
        new ScanCommand({
          TableName: this.tableName,
          Limit: page.limit - items.length,
          ExclusiveStartKey: from,
          ProjectionExpression: 'deviceId, #record',
          FilterExpression:
            'NOT begins_with(deviceId, :counters) AND attribute_exists(#record) AND ' +
            '(attribute_not_exists(settledShard) OR NOT begins_with(settledShard, :disconnected))',
          ExpressionAttributeNames: { '#record': 'record' },
          ExpressionAttributeValues: { ':counters': COUNTER_KEY_PREFIX, ':disconnected': 'disconnected#' },
        }),
      );
      items.push(...(result.Items ?? []));
      from = result.LastEvaluatedKey as WalkPosition['walkFrom'] | undefined;
      if (!from) break;
    }
    return { items: this.viewsOf(items, now), next: from && { walkFrom: from } };
  }

  /** One query on one shard of the settled-status index (keys only). */
  private async queryStatusShard(shard: number, limit: number, startKey?: Key): Promise<KeyPage<string>> {
    const result = await this.dynamo.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: SETTLED_STATUS_INDEX,
        KeyConditionExpression: 'settledShard = :s',
        ExpressionAttributeValues: { ':s': `disconnected#${shard}` },
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return {
      items: (result.Items ?? []).map((item) => String(item.deviceId)),
      ...(result.LastEvaluatedKey ? { nextKey: result.LastEvaluatedKey } : {}),
    };
  }

  /** The listed devices' live views at `now`, in the index's order: eventually consistent batch reads. */
  private async summaries(deviceIds: readonly string[], now: number): Promise<DeviceSummary[]> {
    const items = new Map<string, Record<string, unknown>>();
    for (let start = 0; start < deviceIds.length; start += BATCH_GET_LIMIT) {
      let keys: Array<Record<string, unknown>> | undefined = deviceIds
        .slice(start, start + BATCH_GET_LIMIT)
        .map((deviceId) => ({ deviceId }));
      while (keys && keys.length > 0) {
        const result: BatchGetCommandOutput = await this.dynamo.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: {
                Keys: keys,
                ProjectionExpression: 'deviceId, #record',
                ExpressionAttributeNames: { '#record': 'record' },
              },
            },
          }),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) items.set(String(item.deviceId), item);
        keys = result.UnprocessedKeys?.[this.tableName]?.Keys;
      }
    }
    const found = deviceIds.flatMap((deviceId) => {
      const item = items.get(deviceId);
      return item ? [item] : [];
    });
    return this.viewsOf(found, now);
  }

  /** Each device item's live view at `now`, as a summary; an item that cannot be read is reported and left out. */
  private viewsOf(found: ReadonlyArray<Record<string, unknown>>, now: number): DeviceSummary[] {
    return readEach(
      found,
      (item) => {
        const deviceId = String(item.deviceId);
        const { facts, cursor } = decodeDeviceRecord(deviceId, item.record);
        const view = evaluateDevice(facts, cursor, now, this.settings).view;
        return view && summaryOf(view);
      },
      (item) => ({ deviceId: item.deviceId }),
    );
  }
}

function summaryOf(view: DeviceView): DeviceSummary {
  return {
    deviceId: view.deviceId,
    status: view.status,
    since: view.since,
    settled: view.settled,
    sessionIdentifier: view.sessionIdentifier,
    ...(view.versionNumber === undefined ? {} : { versionNumber: view.versionNumber }),
    ...(view.disconnectReason === undefined ? {} : { disconnectReason: view.disconnectReason }),
  };
}
