import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { describe, expect, it } from 'vitest';
import {
  parseStreamFailureRecord,
  StreamRangeUnavailableError,
} from '../../src/adapters/stream-dead-letters.js';
import { readStreamRange } from '../../src/adapters/stream-range-reader.js';

const STREAM_ARN =
  'arn:aws:dynamodb:eu-west-1:1:table/iot-presence-prod-events/stream/2026-11-01T00:00:00.000';

/** What Lambda's on-failure destination writes for a stream batch that exhausted its retries. */
const lambdaRecord = {
  requestContext: {
    requestId: 'c9b8fa9f-5a7f-4d3e-9b6f-2f3c1c8f9c11',
    functionArn: 'arn:aws:lambda:eu-west-1:1:function:iot-presence-prod-reconcileEvents',
    condition: 'RetryAttemptsExhausted',
    approximateInvokeCount: 11,
  },
  responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
  version: '1.0',
  timestamp: '2026-11-01T00:10:00.000Z',
  DDBStreamBatchInfo: {
    shardId: 'shardId-00000001700000000000-abcdef12',
    startSequenceNumber: '900000000000000000001',
    endSequenceNumber: '900000000000000000009',
    approximateArrivalOfFirstRecord: '2026-11-01T00:00:01Z',
    approximateArrivalOfLastRecord: '2026-11-01T00:00:02Z',
    batchSize: 3,
    streamArn: STREAM_ARN,
  },
};

describe('parseStreamFailureRecord', () => {
  it("reads the shard, range and stream of Lambda's on-failure record", () => {
    // Act
    const info = parseStreamFailureRecord(JSON.stringify(lambdaRecord));

    // Assert
    expect(info).toEqual({
      functionArn: lambdaRecord.requestContext.functionArn,
      shardId: 'shardId-00000001700000000000-abcdef12',
      startSequenceNumber: '900000000000000000001',
      endSequenceNumber: '900000000000000000009',
      streamArn: STREAM_ARN,
    });
  });

  it.each([
    ['not JSON', '{'],
    [
      'an asynchronous invocation failure',
      JSON.stringify({ requestContext: { functionArn: 'x' }, requestPayload: {} }),
    ],
    [
      'a record without the stream ARN',
      JSON.stringify({
        ...lambdaRecord,
        DDBStreamBatchInfo: { ...lambdaRecord.DDBStreamBatchInfo, streamArn: '' },
      }),
    ],
    [
      'a record whose sequence numbers are not numbers',
      JSON.stringify({
        ...lambdaRecord,
        DDBStreamBatchInfo: { ...lambdaRecord.DDBStreamBatchInfo, startSequenceNumber: 'abc' },
      }),
    ],
    [
      'a range that ends before it starts',
      JSON.stringify({
        ...lambdaRecord,
        DDBStreamBatchInfo: {
          ...lambdaRecord.DDBStreamBatchInfo,
          startSequenceNumber: '900000000000000000010',
        },
      }),
    ],
  ])('does not understand %s', (_label, body) => {
    expect(parseStreamFailureRecord(body)).toBeUndefined();
  });
});

/** A stream client that answers GetShardIterator and then the given pages, or throws the given error. */
function fakeStreams(pages: string[][], error?: Error) {
  const sent: Array<{ name: string; input: Record<string, unknown> }> = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      sent.push({ name: command.constructor.name, input: command.input });
      if (error) throw error;
      if (command.constructor.name === 'GetShardIteratorCommand') return { ShardIterator: 'page-0' };
      const index = Number(String(command.input.ShardIterator).slice('page-'.length));
      return {
        Records: (pages[index] ?? []).map((sequence) => ({
          eventName: 'INSERT',
          dynamodb: { SequenceNumber: sequence },
        })),
        NextShardIterator: index + 1 < pages.length ? `page-${index + 1}` : undefined,
      };
    },
  };
  return { client: client as unknown as DynamoDBStreamsClient, sent };
}

describe('readStreamRange', () => {
  const info = parseStreamFailureRecord(JSON.stringify(lambdaRecord));
  if (!info) throw new Error('fixture does not parse');

  it('reads from the first sequence number up to the last, comparing them as numbers', async () => {
    // Arrange: 99… is greater than 900… as a number although it sorts before it as a string.
    const { client, sent } = fakeStreams([
      ['900000000000000000001', '900000000000000000005'],
      ['900000000000000000009', '990000000000000000000', '9000000000000000000010'],
    ]);

    // Act
    const records = await readStreamRange(client, info);

    // Assert
    expect(records.map((record) => record.dynamodb?.SequenceNumber)).toEqual([
      '900000000000000000001',
      '900000000000000000005',
      '900000000000000000009',
    ]);
    expect(sent[0]).toEqual({
      name: 'GetShardIteratorCommand',
      input: {
        StreamArn: STREAM_ARN,
        ShardId: info.shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        SequenceNumber: '900000000000000000001',
      },
    });
  });

  it('stops at the end of a closed shard', async () => {
    // Arrange
    const { client } = fakeStreams([['900000000000000000001'], ['900000000000000000002']]);

    // Act
    const records = await readStreamRange(client, info);

    // Assert
    expect(records).toHaveLength(2);
  });

  it('reports a range trimmed from the stream as unavailable', async () => {
    // Arrange
    const trimmed = Object.assign(new Error('trimmed'), { name: 'TrimmedDataAccessException' });
    const { client } = fakeStreams([], trimmed);

    // Act
    const reading = readStreamRange(client, info);

    // Assert
    await expect(reading).rejects.toBeInstanceOf(StreamRangeUnavailableError);
    await expect(reading).rejects.toMatchObject({ reason: 'TrimmedDataAccessException' });
  });

  it('lets any other error through', async () => {
    // Arrange
    const { client } = fakeStreams(
      [],
      Object.assign(new Error('slow down'), { name: 'LimitExceededException' }),
    );

    // Act / Assert
    await expect(readStreamRange(client, info)).rejects.toMatchObject({ name: 'LimitExceededException' });
  });
});
