import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBStreamEvent } from 'aws-lambda';

/**
 * Plays the part of Lambda's event source mapping for the event log's stream: reads new records from DynamoDB
 * Local's stream and hands them, in batches, to the reconcile handler.
 */
export class StreamPump {
  private readonly client: DynamoDBStreamsClient;
  private iterators = new Map<string, string | undefined>();
  private finishedShards = new Set<string>();
  private lastSequence = new Map<string, string>();

  constructor(
    endpoint: string,
    private readonly streamArn: string,
    private readonly deliver: (event: DynamoDBStreamEvent) => Promise<void>,
    private readonly batchSize = 100,
  ) {
    this.client = new DynamoDBStreamsClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  }

  /** Starts reading at the current end of the stream (what LATEST means for a new mapping). */
  async start(): Promise<void> {
    await this.discoverShards('LATEST');
  }

  private async discoverShards(position: 'LATEST' | 'TRIM_HORIZON'): Promise<void> {
    const described = await this.client.send(new DescribeStreamCommand({ StreamArn: this.streamArn }));
    for (const shard of described.StreamDescription?.Shards ?? []) {
      const shardId = shard.ShardId as string;
      if (this.iterators.has(shardId) || this.finishedShards.has(shardId)) continue;
      const { ShardIterator } = await this.client.send(
        new GetShardIteratorCommand({
          StreamArn: this.streamArn,
          ShardId: shardId,
          ShardIteratorType: position,
        }),
      );
      this.iterators.set(shardId, ShardIterator);
    }
  }

  /** Reads until every shard is caught up; returns how many records were delivered. */
  async drain(): Promise<number> {
    let delivered = 0;
    for (;;) {
      const records: _Record[] = [];
      let shardClosed = false;
      let full = false;
      for (const [shardId, iterator] of this.iterators) {
        if (!iterator) {
          this.iterators.delete(shardId);
          this.finishedShards.add(shardId);
          shardClosed = true;
          continue;
        }
        const page = await this.readShard(shardId, iterator);
        records.push(...(page.Records ?? []));
        full ||= (page.Records?.length ?? 0) >= this.batchSize;
        this.iterators.set(shardId, page.NextShardIterator);
      }
      // A closed shard has children that hold the newer records.
      if (shardClosed || this.iterators.size === 0) await this.discoverShards('TRIM_HORIZON');
      if (records.length === 0 && !shardClosed) return delivered;
      for (let i = 0; i < records.length; i += this.batchSize) {
        await this.deliver({
          Records: records.slice(i, i + this.batchSize) as DynamoDBStreamEvent['Records'],
        });
      }
      delivered += records.length;
      // A short read means the shard is caught up: no need to ask again just to hear "nothing".
      if (!full && !shardClosed) return delivered;
    }
  }

  /** One GetRecords; an iterator the stream no longer honours is replaced, resuming after the last record read. */
  private async readShard(shardId: string, iterator: string) {
    try {
      const page = await this.client.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: this.batchSize }),
      );
      const last = page.Records?.[page.Records.length - 1]?.dynamodb?.SequenceNumber;
      if (last) this.lastSequence.set(shardId, last);
      return page;
    } catch (error) {
      const name = (error as Error).name;
      if (name !== 'TrimmedDataAccessException' && name !== 'ExpiredIteratorException') throw error;
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
      return { Records: [], NextShardIterator: ShardIterator };
    }
  }

  close(): void {
    this.client.destroy();
  }
}
