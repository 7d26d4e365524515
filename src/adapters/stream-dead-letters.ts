import {
  type _Record,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import * as z from '../shared/zod.js';

/** What Lambda's on-failure destination of a DynamoDB stream mapping writes: the batch's range, not its records. */
const streamFailureRecordSchema = z.object({
  requestContext: z.object({ functionArn: z.string(), condition: z.optional(z.string()) }),
  DDBStreamBatchInfo: z.object({
    shardId: z.string().check(z.minLength(1)),
    startSequenceNumber: z.string().check(z.regex(/^\d+$/)),
    endSequenceNumber: z.string().check(z.regex(/^\d+$/)),
    batchSize: z.optional(z.number()),
    streamArn: z.string().check(z.minLength(1)),
  }),
});

export interface StreamBatchInfo {
  functionArn: string;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  streamArn: string;
}

/** Reads one ReconcileDlq message; undefined when it is not a stream batch's failure record. */
export function parseStreamFailureRecord(body: string): StreamBatchInfo | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const record = streamFailureRecordSchema.safeParse(parsed);
  if (!record.success) return undefined;
  const info = record.data.DDBStreamBatchInfo;
  if (BigInt(info.startSequenceNumber) > BigInt(info.endSequenceNumber)) return undefined;
  return {
    functionArn: record.data.requestContext.functionArn,
    shardId: info.shardId,
    startSequenceNumber: info.startSequenceNumber,
    endSequenceNumber: info.endSequenceNumber,
    streamArn: info.streamArn,
  };
}

/** The range has left the stream (older than its 24-hour retention, or the stream is gone). */
export class StreamRangeUnavailableError extends Error {
  constructor(
    readonly info: StreamBatchInfo,
    readonly reason: string,
  ) {
    super(
      `stream range ${info.startSequenceNumber}..${info.endSequenceNumber} of ${info.shardId} is unavailable`,
    );
    this.name = 'StreamRangeUnavailableError';
  }
}

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
