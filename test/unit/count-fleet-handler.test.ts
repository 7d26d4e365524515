import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { CountDeltas } from '../../src/domain/fleet-counts.js';
import type { CountWindow, FleetCountStore } from '../../src/domain/ports.js';
import { buildCountFleetHandler, type WindowState } from '../../src/handlers/count-fleet.js';
import { lambdaContext } from '../../src/local/lambda-context.js';

/** Applies each window once per shard and sequence, as the counter items do. */
class RecordingCountStore implements FleetCountStore {
  readonly applied: Array<{ window: CountWindow; deltas: CountDeltas }> = [];
  async apply(window: CountWindow, deltas: Readonly<CountDeltas>) {
    const seen = this.applied.some(
      (a) =>
        a.window.shardId === window.shardId &&
        BigInt(a.window.throughSequence) >= BigInt(window.throughSequence),
    );
    if (seen) return 'already-applied' as const;
    this.applied.push({ window, deltas: { ...deltas } });
    return 'applied' as const;
  }
}

const image = (countedAs?: string) => ({
  deviceId: { S: 'thing-1' },
  ...(countedAs === undefined ? {} : { countedAs: { S: countedAs } }),
});

function change(sequence: number, from?: string, to?: string): DynamoDBRecord {
  return {
    eventName: from === undefined ? 'INSERT' : 'MODIFY',
    dynamodb: {
      SequenceNumber: String(sequence).padStart(21, '1'),
      ...(from === undefined ? {} : { OldImage: image(from) }),
      NewImage: image(to),
    },
  } as DynamoDBRecord;
}

function windowEvent(records: DynamoDBRecord[], state: WindowState, isFinalInvokeForWindow: boolean) {
  return {
    Records: records,
    window: { start: '2026-11-01T00:00:00Z', end: '2026-11-01T00:00:30Z' },
    state,
    shardId: 'shardId-00000001',
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/devices/stream/x',
    isFinalInvokeForWindow,
    isWindowTerminatedEarly: false,
  };
}

describe('the counting function (devices stream, tumbling windows)', () => {
  it('carries the sum through the window and applies it once, at the final invocation, named by shard and last sequence', async () => {
    // Arrange
    const store = new RecordingCountStore();
    const handler = buildCountFleetHandler({ counts: store });
    const context = lambdaContext('countFleet');
    // Act
    const first = await handler(
      windowEvent([change(1, undefined, 'connected.settled.-')], {}, false),
      context,
    );
    const second = await handler(
      windowEvent(
        [
          change(2, 'connected.settled.-', 'disconnected.unsettled.CONNECTION_LOST'),
          change(3, 'connected.settled.-', 'connected.settled.-'),
          change(4),
        ],
        first.state,
        false,
      ),
      context,
    );
    const final = await handler(windowEvent([], second.state, true), context);
    // Assert
    expect(store.applied).toEqual([
      {
        window: {
          shardId: 'shardId-00000001',
          throughSequence: change(4).dynamodb?.SequenceNumber,
          endedAt: Date.parse('2026-11-01T00:00:30Z'),
        },
        deltas: { 'disconnected.unsettled.CONNECTION_LOST': 1 },
      },
    ]);
    expect(final.state).toEqual({});
  });

  it("applies nothing for a window in which no device changed kind (the counter items' own changes)", async () => {
    // Arrange
    const store = new RecordingCountStore();
    const handler = buildCountFleetHandler({ counts: store });
    // Act
    const result = await handler(
      windowEvent([change(7), change(8, 'connected.settled.-', 'connected.settled.-')], {}, true),
      lambdaContext('countFleet'),
    );
    // Assert
    expect(store.applied).toEqual([]);
    expect(result.state).toEqual({});
  });

  it('leaves out a record whose kind cannot be read, and counts the others of its window', async () => {
    // Arrange
    const store = new RecordingCountStore();
    const handler = buildCountFleetHandler({ counts: store });
    const damaged = change(5, undefined, 'connected.settled.-');
    (damaged.dynamodb as { NewImage: Record<string, unknown> }).NewImage.countedAs = { S: '' };
    // Act
    await handler(
      windowEvent([damaged, change(6, undefined, 'connected.settled.-')], {}, true),
      lambdaContext('countFleet'),
    );
    // Assert
    expect(store.applied.map((a) => a.deltas)).toEqual([{ 'connected.settled.-': 1 }]);
  });

  it('refuses an event that is not a tumbling window of a stream, in plain words', async () => {
    // Arrange
    const handler = buildCountFleetHandler({ counts: new RecordingCountStore() });
    // Act
    const call = handler({ Records: [] }, lambdaContext('countFleet'));
    // Assert
    await expect(call).rejects.toThrow(/window/);
  });
});
