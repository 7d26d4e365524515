import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { lambdaContext } from '../lambda-context.js';
import type { OpenStreamSource, StreamSource } from '../stream-pump.js';
import type { DeadLetter, InvocationCounters, LambdaHandler } from './function.js';

/** serverless.yml gives the stream mapping `maximumRetryAttempts: 10`; the local mapping gives a batch 10 attempts in all. */
const MAX_ATTEMPTS = 10;

export interface StreamMappingOptions {
  /** Where the stream's records are read from (a StreamPump on DynamoDB Local, or a stream in memory). */
  openSource: OpenStreamSource;
  streamArn: string;
  functionName: string;
  handler: LambdaHandler<DynamoDBStreamEvent, DynamoDBBatchResponse | undefined>;
  counters: InvocationCounters;
  deadLetters: DeadLetter[];
  /** The on-failure destination: gets the batch's range once its attempts are spent. */
  onFailureDestination(record: StreamFailureRecord): Promise<void>;
  /** The clock the failure records are stamped with. */
  now(): number;
  /**
   * Where the mapping keeps how far it has read each shard, as the deployed mapping keeps its checkpoint: a start
   * with kept data resumes after it instead of reading the stream again from its start. Written after each batch
   * the function took (or that went to the on-failure destination): a crash reads again at most the batch in hand.
   */
  checkpointFile?: string;
}

/**
 * Lambda's event source mapping for a DynamoDB stream: reads new records in batches and hands each to the function;
 * a batch that fails (an error, or any item failure) is retried whole, and after the last attempt its range goes to
 * the on-failure destination. Reading is on demand (`drain`): the runtime drains after each batching window.
 */
export class StreamMapping {
  private readonly pump: StreamSource;
  private draining: Promise<void> | undefined;
  private drainAgain = false;

  constructor(private readonly options: StreamMappingOptions) {
    this.pump = options.openSource((event, shardId) => this.deliver(event, shardId));
  }

  async start(): Promise<void> {
    await this.pump.start();
    for (const [shardId, sequence] of Object.entries(this.readCheckpoints())) {
      this.pump.resumeAfter?.(shardId, sequence);
    }
  }

  private checkpoints: Record<string, string> = {};

  private readCheckpoints(): Record<string, string> {
    const file = this.options.checkpointFile;
    if (!file) return {};
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        this.checkpoints = Object.fromEntries(
          Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
        );
      }
    } catch {
      // None yet, or unreadable: read from the start, which reconciles everything again (idempotent).
    }
    return this.checkpoints;
  }

  private saveCheckpoint(event: DynamoDBStreamEvent, shardId: string): void {
    const file = this.options.checkpointFile;
    const last = event.Records[event.Records.length - 1]?.dynamodb?.SequenceNumber;
    if (!file || !last) return;
    this.checkpoints[shardId] = last;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(this.checkpoints));
    renameSync(`${file}.tmp`, file);
  }

  /** Reads the stream until it is caught up; a drain asked for while one runs makes that one read again. */
  drain(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.drainAgain = false;
        await this.pump.drain();
      } while (this.drainAgain);
    })().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  async stop(): Promise<void> {
    await this.draining;
    this.pump.close();
  }

  private async deliver(event: DynamoDBStreamEvent, shardId: string): Promise<void> {
    await this.invoke(event, shardId);
    this.saveCheckpoint(event, shardId);
  }

  private async invoke(event: DynamoDBStreamEvent, shardId: string): Promise<void> {
    const { counters, functionName } = this.options;
    // Reconciling is idempotent: the mapping retries a failed batch as it is.
    for (let attempt = 1; ; attempt += 1) {
      counters.invocations += 1;
      let failed: boolean;
      try {
        const result = await this.options.handler(event, lambdaContext(functionName));
        failed = (result?.batchItemFailures.length ?? 0) > 0;
      } catch {
        failed = true;
      }
      if (!failed) return;
      counters.retries += 1;
      if (attempt >= MAX_ATTEMPTS) {
        counters.deadLettered += 1;
        this.options.deadLetters.push({ target: functionName, event, error: 'batch kept failing' });
        await this.options.onFailureDestination(
          streamFailureRecord(event, shardId, this.options.streamArn, functionName, this.options.now()),
        );
        return;
      }
    }
  }
}

type StreamFailureRecord = ReturnType<typeof streamFailureRecord>;

/** The record Lambda's on-failure destination of a stream mapping writes: the batch's range, not its records. */
function streamFailureRecord(
  event: DynamoDBStreamEvent,
  shardId: string,
  streamArn: string,
  functionName: string,
  now: number,
) {
  const sequences = event.Records.map((record) => record.dynamodb?.SequenceNumber ?? '0');
  const at = new Date(now).toISOString();
  return {
    requestContext: {
      requestId: `local-${now}`,
      functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: MAX_ATTEMPTS,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: at,
    DDBStreamBatchInfo: {
      shardId,
      startSequenceNumber: sequences[0] ?? '0',
      endSequenceNumber: sequences[sequences.length - 1] ?? '0',
      approximateArrivalOfFirstRecord: at,
      approximateArrivalOfLastRecord: at,
      batchSize: event.Records.length,
      streamArn,
    },
  };
}
