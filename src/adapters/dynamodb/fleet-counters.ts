import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type CountDeltas, fleetCountsFrom } from '../../domain/fleet-counts.js';
import type { CountWindow, FleetCountStore } from '../../domain/ports.js';
import type { FleetCounts, FleetQueries } from '../../domain/queries.js';
import { COUNTER_KEY_PREFIX } from '../../domain/reserved-ids.js';
import { fnv1a } from '../../shared/fnv1a.js';

/**
 * Fleet counts live in counter items beside the devices (`$counts#<shard>`), one number per kind of device. Each
 * stream shard adds its windows to one counter item, and marks there how far it has counted (`seen#<shardId>`): a
 * window is added in the same UpdateItem that moves the mark forward, so a window delivered again adds nothing.
 */
const COUNTER_SHARDS = 10;
const counterKey = (shard: number) => `${COUNTER_KEY_PREFIX}${shard}`;
const MARK_PREFIX = 'seen#';
/** DynamoDB stream sequence numbers have 21 to 40 digits; padded, they order as strings. */
const SEQUENCE_DIGITS = 40;
/** Streams keep records 24 hours: a shard's mark older than two days can never be needed again. */
const MARK_KEPT_MS = 48 * 3_600_000;

/** `<sequence padded>@<endedAt>`: ordered by sequence number, and telling how old it is. */
const markOf = (window: CountWindow) =>
  `${window.throughSequence.padStart(SEQUENCE_DIGITS, '0')}@${window.endedAt}`;
const endedAtOfMark = (mark: string) => Number(mark.slice(mark.indexOf('@') + 1));

export class DynamoDbFleetCounters implements FleetCountStore, FleetQueries {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async apply(window: CountWindow, deltas: Readonly<CountDeltas>): Promise<'applied' | 'already-applied'> {
    const names: Record<string, string> = { '#mark': `${MARK_PREFIX}${window.shardId}` };
    const values: Record<string, string | number> = { ':mark': markOf(window) };
    const adds = Object.entries(deltas).map(([kind, delta], i) => {
      names[`#k${i}`] = kind;
      values[`:d${i}`] = delta;
      return `#k${i} :d${i}`;
    });
    const key = { deviceId: counterKey(fnv1a(window.shardId) % COUNTER_SHARDS) };
    try {
      const { Attributes } = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `SET #mark = :mark${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_not_exists(#mark) OR #mark < :mark',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      await this.forgetOldMarks(key, Attributes ?? {}, window.endedAt);
      return 'applied';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'already-applied';
      throw error;
    }
  }

  /** Marks of shards closed long ago would grow the item forever: removed, each only if still as read. */
  private async forgetOldMarks(key: Record<string, string>, item: Record<string, unknown>, now: number) {
    const old = Object.entries(item).filter(
      (entry): entry is [string, string] =>
        entry[0].startsWith(MARK_PREFIX) &&
        typeof entry[1] === 'string' &&
        endedAtOfMark(entry[1]) < now - MARK_KEPT_MS,
    );
    if (old.length === 0) return;
    const names = Object.fromEntries(old.map(([name], i) => [`#m${i}`, name]));
    const values = Object.fromEntries(old.map(([, mark], i) => [`:m${i}`, mark]));
    await this.dynamo
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `REMOVE ${Object.keys(names).join(', ')}`,
          ConditionExpression: Object.keys(names)
            .map((name, i) => `${name} = :m${i}`)
            .join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      )
      // Best effort: whatever stopped it (another shard moved its mark meanwhile), the next window tries again.
      .catch(() => undefined);
  }

  /** The fleet counts: one BatchGetItem of the counter items, whatever the fleet's size. */
  async counts(): Promise<FleetCounts> {
    let keys: Array<Record<string, unknown>> = Array.from({ length: COUNTER_SHARDS }, (_, shard) => ({
      deviceId: counterKey(shard),
    }));
    const items: Array<Record<string, unknown>> = [];
    // A batch may leave keys unprocessed under load: ask again for those only.
    for (let attempt = 0; keys.length > 0 && attempt < 5; attempt += 1) {
      const result = await this.dynamo.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
      );
      items.push(...(result.Responses?.[this.tableName] ?? []));
      keys = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return fleetCountsFrom(
      items.flatMap((item) =>
        Object.entries(item).filter((entry): entry is [string, number] => typeof entry[1] === 'number'),
      ),
    );
  }
}
