import type { ParkedStreamRange } from '../domain/dead-letters.js';
import { parseJsonOr } from '../shared/json.js';
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

/** The range a parked batch names. */
export type StreamBatchInfo = ParkedStreamRange;

/** Reads one ReconcileDlq message; undefined when it is not a stream batch's failure record. */
export function parseStreamFailureRecord(body: string): StreamBatchInfo | undefined {
  const parsed = parseJsonOr(body, undefined);
  if (parsed === undefined) return undefined;
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
