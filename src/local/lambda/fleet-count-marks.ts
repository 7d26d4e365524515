import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { COUNTER_KEY_PREFIX } from '../../domain/reserved-ids.js';

/** BatchGetItem's limit; the counter items are far fewer (adapters/dynamodb/fleet-counters.ts). */
const COUNTER_KEYS_READ = 100;
const MARK_PREFIX = 'seen#';
/** DynamoDB Local writes its stream sequence numbers with 21 digits. */
const LOCAL_SEQUENCE_DIGITS = 21;

/**
 * How far the counting function has counted each shard of the devices stream: the marks the counter items carry
 * (`seen#<shardId>` = `<sequence number, zero-padded>@<window end>`), written in the same UpdateItem as the window's
 * counts. The local mapping resumes after them on a start with kept data, as the deployed mapping resumes from its
 * checkpoint: reading the stream again from its start would count every change a second time.
 */
export async function fleetCountMarks(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
): Promise<Map<string, string>> {
  let keys: Array<Record<string, unknown>> = Array.from({ length: COUNTER_KEYS_READ }, (_, shard) => ({
    deviceId: `${COUNTER_KEY_PREFIX}${shard}`,
  }));
  const marks = new Map<string, string>();
  for (let attempt = 0; keys.length > 0 && attempt < 5; attempt += 1) {
    const result = await dynamo.send(
      new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
    );
    for (const item of result.Responses?.[tableName] ?? []) {
      for (const [name, value] of Object.entries(item)) {
        if (!name.startsWith(MARK_PREFIX) || typeof value !== 'string') continue;
        // The mark pads to 40 digits; DynamoDB Local's iterators want its own 21.
        const sequence = value
          .slice(0, value.indexOf('@'))
          .replace(/^0+(?=\d)/, '')
          .padStart(LOCAL_SEQUENCE_DIGITS, '0');
        marks.set(name.slice(MARK_PREFIX.length), sequence);
      }
    }
    keys = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
  }
  return marks;
}
