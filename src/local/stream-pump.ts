import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBStreamEvent } from 'aws-lambda';

/** Gets one batch of a stream and the shard it was read from. */
export type DeliverBatch = (event: DynamoDBStreamEvent, shardId: string) => Promise<void>;

/** Where an event source mapping reads a stream's records from: DynamoDB Local's stream, or one kept in memory. */
export interface StreamSource {
  start(): Promise<void>;
  /** Reads until caught up, handing the records on in batches; returns how many. */
  drain(): Promise<number>;
  close(): void;
  /** Reads the shard from just after this record on, as a mapping resuming from its checkpoint does. */
  resumeAfter?(shardId: string, sequenceNumber: string): void;
}

/** How a mapping opens its source, with the function it hands the batches to. */
export type OpenStreamSource = (deliver: DeliverBatch) => StreamSource;

/**
 * Plays the part of Lambda's event source mapping for the event log's stream: reads new records from DynamoDB
 * Local's stream and hands them, in batches, to the reconcile handler.
 */
export class StreamPump implements StreamSource {
  private readonly client: DynamoDBStreamsClient;
  private readonly openShards = new Set<string>();
  private readonly closedShards = new Set<string>();
  private readonly lastSequence = new Map<string, string>();
  /** The iterator after a read that returned records; any other is not trusted (see freshIterator). */
  private readonly carriedIterators = new Map<string, string>();

  constructor(
    endpoint: string,
    private readonly streamArn: string,
    private readonly deliver: DeliverBatch,
    private readonly batchSize = 100,
  ) {
    this.client = new DynamoDBStreamsClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  }

  /**
   * Starts at the beginning of the stream: on fresh tables, this is what LATEST means for the deployed mapping. On
   * tables kept from an earlier run, the mapping resumes each shard after its checkpoint (`resumeAfter`); a shard
   * without one is read from its start, which only reconciles or counts again what is idempotent to repeat.
   */
  async start(): Promise<void> {
    await this.discoverShards();
  }

  /** Reads the shard from just after this record on, as a mapping resuming from its checkpoint does. */
  resumeAfter(shardId: string, sequenceNumber: string): void {
    this.lastSequence.set(shardId, sequenceNumber);
    this.carriedIterators.delete(shardId);
  }

  private async discoverShards(): Promise<void> {
    const described = await this.client.send(new DescribeStreamCommand({ StreamArn: this.streamArn }));
    for (const shard of described.StreamDescription?.Shards ?? []) {
      const shardId = shard.ShardId as string;
      if (!this.closedShards.has(shardId)) this.openShards.add(shardId);
    }
  }

  /**
   * An iterator taken now, just after the last record delivered (or at the start of the shard). DynamoDB Local's
   * iterator taken on an empty shard, or after a read that returned nothing, can miss records written since; only
   * the iterator that follows a read with records is carried over to the next drain.
   */
  private async freshIterator(shardId: string): Promise<string | undefined> {
    const after = this.lastSequence.get(shardId);
    const { ShardIterator } = await this.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shardId,
        ...(after
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }
          : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    return ShardIterator;
  }

  /** Reads every shard until it is caught up and hands the records on in batches; returns how many. */
  async drain(): Promise<number> {
    let delivered = 0;
    let shardClosed = false;
    for (const shardId of [...this.openShards]) {
      let iterator = this.carriedIterators.get(shardId) ?? (await this.freshIterator(shardId));
      this.carriedIterators.delete(shardId);
      while (iterator) {
        const page = await this.client.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: this.batchSize }),
        );
        const records: _Record[] = page.Records ?? [];
        const last = records[records.length - 1]?.dynamodb?.SequenceNumber;
        if (last) this.lastSequence.set(shardId, last);
        if (records.length > 0) {
          await this.deliver({ Records: records as DynamoDBStreamEvent['Records'] }, shardId);
          delivered += records.length;
        }
        if (!page.NextShardIterator) {
          // A closed shard: its children hold the newer records.
          this.openShards.delete(shardId);
          this.closedShards.add(shardId);
          shardClosed = true;
          break;
        }
        if (records.length < this.batchSize) {
          if (records.length > 0) this.carriedIterators.set(shardId, page.NextShardIterator);
          break; // caught up
        }
        iterator = page.NextShardIterator;
      }
    }
    if (shardClosed) {
      await this.discoverShards();
      delivered += await this.drain();
    }
    return delivered;
  }

  close(): void {
    this.client.destroy();
  }
}
