/**
 * The one-off backfill of the settled-status index for a stage deployed with the version before, which listed
 * devices by their live status (the `byStatus` index). The migration, in three steps (docs/cost.md):
 *   1. deploy with `--param="keepStatusIndex=true"`: the new index is created beside the old one;
 *   2. `npm run backfill-settled-index -- --stage S`: every device item written before gets its index key;
 *   3. deploy without the parameter: the old index is dropped.
 * DynamoDB creates or deletes one global secondary index per table update, hence two deploys.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { evaluateDevice } from '../../domain/evaluate.js';
import { settledStatus } from '../../domain/queries.js';
import type { PresenceSettings } from '../../domain/settings.js';
import { decodeDeviceRecord } from './device-record.js';
import { settledShardOf } from './device-store.js';

export interface BackfillOutcome {
  /** Device items read. */
  scanned: number;
  /** Items given their settled-status key. */
  backfilled: number;
  /** Items that had it already, or were written by a newer version while the backfill ran. */
  skipped: number;
}

/** Item keys of the table's counters and other non-device items start with `$`. */
const isDeviceId = (deviceId: string) => !deviceId.startsWith('$');

/**
 * Gives every device item written before its settled-status key (`connected#<shard>` or `disconnected#<shard>`, from
 * its record evaluated at `now`). Each update is conditioned on the revision read and on the key's absence, so a
 * device the reconciler writes meanwhile keeps what that write gave it, and a second run changes nothing.
 */
export async function backfillSettledStatus(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  settings: PresenceSettings,
  now: number,
): Promise<BackfillOutcome> {
  const outcome: BackfillOutcome = { scanned: 0, backfilled: 0, skipped: 0 };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: tableName,
        ProjectionExpression: 'deviceId, revision, #record, settledShard',
        ExpressionAttributeNames: { '#record': 'record' },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const deviceId = String(item.deviceId);
      if (!isDeviceId(deviceId) || item.record === undefined) continue;
      outcome.scanned += 1;
      const view = item.settledShard
        ? undefined
        : (() => {
            const { facts, cursor } = decodeDeviceRecord(deviceId, item.record);
            return evaluateDevice(facts, cursor, now, settings).view;
          })();
      const key = view && settledShardOf(settledStatus(view, now, settings.settleWindowMs), deviceId);
      if (!key) {
        outcome.skipped += 1;
        continue;
      }
      outcome[(await setKey(dynamo, tableName, deviceId, item.revision, key)) ? 'backfilled' : 'skipped'] +=
        1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return outcome;
}

async function setKey(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  deviceId: string,
  revision: unknown,
  settledShard: string,
): Promise<boolean> {
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { deviceId },
        UpdateExpression: 'SET settledShard = :s',
        ConditionExpression: 'revision = :r AND attribute_not_exists(settledShard)',
        ExpressionAttributeValues: { ':s': settledShard, ':r': revision },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
