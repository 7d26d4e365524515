import {
  type _Record,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import type { ParkedStreamRange, StreamRangeRead, StreamRangeReader } from '../domain/dead-letters.js';
import { type StreamBatchInfo, StreamRangeUnavailableError } from './stream-dead-letters.js';
import { eventsOfStreamRecords } from './stream-images.js';

const UNAVAILABLE = new Set(['TrimmedDataAccessException', 'ResourceNotFoundException']);

/** Consecutive empty pages after which an open shard is taken to hold nothing more of the range. */
const MAX_EMPTY_PAGES = 5;

/**
 * Reads the records of a parked batch back from the stream: from its first sequence number up to its last (compared
 * as numbers), or until the shard has no more.
 */
export async function readStreamRange(
  client: DynamoDBStreamsClient,
  info: StreamBatchInfo,
): Promise<DynamoDBRecord[]> {
  const end = BigInt(info.endSequenceNumber);
  const records: DynamoDBRecord[] = [];
  try {
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamArn: info.streamArn,
        ShardId: info.shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        SequenceNumber: info.startSequenceNumber,
      }),
    );
    let iterator = ShardIterator;
    let emptyPages = 0;
    while (iterator) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      const pageRecords: _Record[] = page.Records ?? [];
      for (const record of pageRecords) {
        const sequence = BigInt(record.dynamodb?.SequenceNumber ?? '0');
        if (sequence > end) return records;
        records.push(record as DynamoDBRecord);
        if (sequence === end) return records;
      }
      emptyPages = pageRecords.length === 0 ? emptyPages + 1 : 0;
      if (emptyPages >= MAX_EMPTY_PAGES) break;
      iterator = page.NextShardIterator;
    }
    return records;
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (UNAVAILABLE.has(name)) throw new StreamRangeUnavailableError(info, name);
    throw error;
  }
}

/** The events of a parked range, read back from the events stream (DynamoDB Streams). */
export class DynamoDbStreamRangeReader implements StreamRangeReader {
  constructor(private readonly client: DynamoDBStreamsClient) {}

  async read(range: ParkedStreamRange): Promise<StreamRangeRead> {
    try {
      return { status: 'read', events: eventsOfStreamRecords(await readStreamRange(this.client, range)) };
    } catch (error) {
      if (!(error instanceof StreamRangeUnavailableError)) throw error;
      return { status: 'unavailable', reason: error.reason };
    }
  }
}
