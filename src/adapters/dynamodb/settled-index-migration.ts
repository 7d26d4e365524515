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
  /** Items given their settled status (and, listed as disconnected, their index key). */
  backfilled: number;
  /** Items that had it already, or were written by a newer version while the backfill ran. */
  skipped: number;
}

/** Item keys of the table's counters and other non-device items start with `$`. */
const isDeviceId = (deviceId: string) => !deviceId.startsWith('$');

/**
 * Gives every device item written before the settled-status index its list (`listedAs`, from its record evaluated at
 * `now`) and, listed as disconnected, its index key (`disconnected#<shard>`). Each update is conditioned on the
 * revision read and on both being absent, so a device the reconciler writes meanwhile keeps what that write gave it,
 * and a second run changes nothing.
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
        ProjectionExpression: 'deviceId, revision, #record, settledShard, listedAs',
        ExpressionAttributeNames: { '#record': 'record' },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const deviceId = String(item.deviceId);
      if (!isDeviceId(deviceId) || item.record === undefined) continue;
      outcome.scanned += 1;
      const view =
        item.settledShard || item.listedAs
          ? undefined
          : (() => {
              const { facts, cursor } = decodeDeviceRecord(deviceId, item.record);
              return evaluateDevice(facts, cursor, now, settings).view;
            })();
      const listedAs = view && settledStatus(view, now, settings.settleWindowMs);
      if (!listedAs) {
        outcome.skipped += 1;
        continue;
      }
      const done = await setListedAs(dynamo, tableName, deviceId, item.revision, listedAs);
      outcome[done ? 'backfilled' : 'skipped'] += 1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return outcome;
}

async function setListedAs(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  deviceId: string,
  revision: unknown,
  listedAs: 'connected' | 'disconnected',
): Promise<boolean> {
  const disconnected = listedAs === 'disconnected';
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { deviceId },
        UpdateExpression: disconnected ? 'SET listedAs = :l, settledShard = :s' : 'SET listedAs = :l',
        ConditionExpression:
          'revision = :r AND attribute_not_exists(settledShard) AND attribute_not_exists(listedAs)',
        ExpressionAttributeValues: {
          ':l': listedAs,
          ':r': revision,
          ...(disconnected ? { ':s': settledShardOf(deviceId) } : {}),
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
