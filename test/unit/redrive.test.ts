import { describe, expect, it } from 'vitest';
import type { RedriveWiring } from '../../src/composition/redrive.js';
import { parseRedriveConfig } from '../../src/config.js';
import type {
  DeadLetterQueue,
  IngestFunction,
  ParkedMessage,
  ParkedStreamRange,
  StreamRangeRead,
} from '../../src/domain/dead-letters.js';
import type { DeviceEvent } from '../../src/domain/device-events.js';
import { buildRedriveHandler } from '../../src/handlers/redrive.js';
import { connectedEvent, connectFailedEvent, willEvent } from '../../src/local/in-memory-ports.js';
import { lambdaContext } from '../../src/local/lambda-context.js';

const NOW = 1_793_520_000_000;
const config = parseRedriveConfig({
  EVENTS_TABLE: 'events',
  DEVICES_TABLE: 'devices',
  ALERTS_TABLE: 'alerts',
  REJECTED_TABLE: 'rejected',
  UPTIME_TABLE: 'uptime',
  ALERT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:alerts',
  CHECK_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/checks',
  CURSOR_SIGNING_KEY: 'unit-test-cursor-signing-key',
  INGEST_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/ingest-dlq',
  RECONCILE_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/1/reconcile-dlq',
  INGEST_PRESENCE_FUNCTION_NAME: 'prod-ingestPresence',
  INGEST_DEVICE_MESSAGE_FUNCTION_NAME: 'prod-ingestDeviceMessage',
});

/** A queue in memory: receive hands out what is left, remove takes a message out. */
class MemoryQueue implements DeadLetterQueue {
  readonly messages: ParkedMessage[];
  constructor(bodies: string[]) {
    this.messages = bodies.map((body, i) => ({ messageId: `m-${i}`, body, receiptHandle: `r-${i}` }));
  }
  private handedOut = new Set<string>();
  async receive(): Promise<ParkedMessage[]> {
    const visible = this.messages.filter((m) => !this.handedOut.has(m.messageId)).slice(0, 10);
    for (const m of visible) this.handedOut.add(m.messageId);
    return visible;
  }
  async remove(message: ParkedMessage): Promise<void> {
    this.messages.splice(this.messages.indexOf(message), 1);
  }
}

const ingestFailure = (payload: unknown) =>
  JSON.stringify({
    requestContext: { functionArn: 'arn:aws:lambda:eu-west-1:1:function:iot-presence-prod-ingestPresence' },
    requestPayload: payload,
  });

const streamFailure = (start: string, end: string) =>
  JSON.stringify({
    requestContext: { functionArn: 'arn:aws:lambda:eu-west-1:1:function:iot-presence-prod-reconcileEvents' },
    DDBStreamBatchInfo: {
      shardId: 'shardId-1',
      startSequenceNumber: start,
      endSequenceNumber: end,
      streamArn: 'arn:aws:dynamodb:eu-west-1:1:table/events/stream/x',
    },
  });

interface HarnessOptions {
  ingest?: string[];
  parked?: string[];
  stream?: (range: ParkedStreamRange) => StreamRangeRead;
  failing?: string[];
}

function harness(options: HarnessOptions) {
  const invoked: Array<{ target: IngestFunction; event: unknown }> = [];
  const reconciled: Array<{ deviceId: string; events: DeviceEvent[] }> = [];
  const wiring: RedriveWiring = {
    config,
    clock: { now: () => NOW },
    ingestDlq: new MemoryQueue(options.ingest ?? []),
    reconcileDlq: new MemoryQueue(options.parked ?? []),
    ingest: { invoke: async (target, event) => void invoked.push({ target, event }) },
    streamRanges: {
      read: async (range) => (options.stream ?? (() => ({ status: 'read', events: [] })))(range),
    },
    reconciler: {
      reconcile: async (deviceId, events = []) => {
        if (options.failing?.includes(deviceId)) throw new Error('DynamoDB is down');
        reconciled.push({ deviceId, events: [...events] });
        return { alerts: [], published: 0, written: true } as never;
      },
    },
  };
  const redrive = buildRedriveHandler(wiring);
  return { wiring, invoked, reconciled, run: () => redrive({}, lambdaContext('redrive')) };
}

describe('the redrive', () => {
  it('feeds each understood IngestDlq message back through its ingest function and removes it', async () => {
    // Arrange
    const payload = { clientId: 'd1', eventType: 'connected' };
    const { wiring, invoked, run } = harness({ ingest: [ingestFailure(payload), 'not a failure record'] });

    // Act
    const result = await run();

    // Assert
    expect(invoked).toEqual([{ target: 'ingestPresence', event: payload }]);
    expect(result).toMatchObject({ redriven: 1, unreadable: 1 });
    expect((wiring.ingestDlq as MemoryQueue).messages.map((m) => m.body)).toEqual(['not a failure record']);
  });

  it('reconciles again the devices of a parked stream batch, once each with their events in order, and removes it', async () => {
    // Arrange
    const d1 = connectedEvent({ deviceId: 'd1', sessionIdentifier: 's', versionNumber: 1, receivedAt: NOW });
    const d2 = willEvent({ deviceId: 'd2', receivedAt: NOW });
    const d1Again = connectedEvent({
      deviceId: 'd1',
      sessionIdentifier: 's',
      versionNumber: 2,
      receivedAt: NOW + 1,
    });
    const failedConnect = connectFailedEvent({ deviceId: 'd3', receivedAt: NOW });
    const ranges: ParkedStreamRange[] = [];
    const { wiring, reconciled, run } = harness({
      parked: [streamFailure('100', '103')],
      stream: (range) => {
        ranges.push(range);
        return {
          status: 'read',
          events: [d1, d2, failedConnect, d1Again].map((event, i) => ({
            event,
            sequenceNumber: String(100 + i),
          })),
        };
      },
    });

    // Act
    const result = await run();

    // Assert
    expect(ranges).toMatchObject([
      { shardId: 'shardId-1', startSequenceNumber: '100', endSequenceNumber: '103' },
    ]);
    expect(reconciled).toEqual([
      { deviceId: 'd1', events: [d1, d1Again] },
      { deviceId: 'd2', events: [d2] },
    ]);
    expect(result).toMatchObject({ reconciled: 1, reconciledDevices: 2, leftInReconcileDlq: 0 });
    expect((wiring.reconcileDlq as MemoryQueue).messages).toEqual([]);
  });

  it.each([
    ['a message that is not a stream failure record', { parked: ['{}'] }],
    [
      'a batch whose range has left the stream',
      {
        parked: [streamFailure('1', '2')],
        stream: () => ({ status: 'unavailable', reason: 'TrimmedDataAccessException' }),
      },
    ],
    [
      'a batch of which a device fails again',
      {
        parked: [streamFailure('1', '1')],
        stream: () => ({
          status: 'read',
          events: [{ event: willEvent({ deviceId: 'd9', receivedAt: NOW }), sequenceNumber: '1' }],
        }),
        failing: ['d9'],
      },
    ],
  ] satisfies Array<[string, HarnessOptions]>)('leaves %s in ReconcileDlq', async (_label, options) => {
    // Arrange
    const { wiring, run } = harness(options);

    // Act
    const result = await run();

    // Assert
    expect(result).toMatchObject({ reconciled: 0, leftInReconcileDlq: 1 });
    expect((wiring.reconcileDlq as MemoryQueue).messages).toHaveLength(1);
  });
});
