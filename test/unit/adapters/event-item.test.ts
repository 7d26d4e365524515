import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  decodeEventItem,
  EVENT_ITEM_SCHEMA_VERSION,
  encodeEventItem,
} from '../../../src/adapters/dynamodb/event-item.js';
import { logger } from '../../../src/adapters/observability.js';
import { eventsOfStreamRecords } from '../../../src/adapters/stream-images.js';
import type { DeviceEvent } from '../../../src/domain/device-events.js';
import {
  birthEvent,
  connectedEvent,
  connectFailedEvent,
  disconnectedEvent,
  willEvent,
} from '../../../src/local/in-memory-ports.js';
import { refusalOf } from '../../fixtures/refusal.js';

const AT = 1_793_520_000_000;
const EXPIRES = Math.floor(AT / 1000) + 30 * 86_400;
const session = { deviceId: 'thing-1', sessionIdentifier: 's-1', versionNumber: 3, receivedAt: AT };

const everyKind: Array<[string, DeviceEvent]> = [
  ['connected', { ...connectedEvent(session), principalIdentifier: 'cert-1', ipAddress: '203.0.113.7' }],
  [
    'disconnected',
    {
      ...disconnectedEvent({ ...session, disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT' }),
      principalIdentifier: 'cert-1',
    },
  ],
  ['connect_failed', connectFailedEvent({ deviceId: 'thing-1', receivedAt: AT })],
  ['will', willEvent({ deviceId: 'thing-1', receivedAt: AT })],
  ['birth', birthEvent({ deviceId: 'thing-1', receivedAt: AT, payload: 'plain text' })],
];

/** A stream record whose NEW_IMAGE is `item`, as the events table's stream delivers it. */
function streamRecord(item: Record<string, unknown>, sequenceNumber: string): DynamoDBRecord {
  return {
    eventName: 'INSERT',
    dynamodb: {
      SequenceNumber: sequenceNumber,
      NewImage: marshall(item, { removeUndefinedValues: true }) as NonNullable<
        DynamoDBRecord['dynamodb']
      >['NewImage'],
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the stored event-log item', () => {
  it.each(everyKind)(
    'reads back a %s event exactly as it was written, with its raw input',
    (_kind, event) => {
      // Arrange
      const item = encodeEventItem(event, '{"raw":true}', EXPIRES);

      // Act
      const read = decodeEventItem(item);

      // Assert
      expect(item.schemaVersion).toBe(EVENT_ITEM_SCHEMA_VERSION);
      expect(read).toEqual({ eventKey: item.eventKey, event, raw: '{"raw":true}' });
    },
  );

  it('reads an item written before the schema version existed as version 1', () => {
    // Arrange
    const { schemaVersion: _, ...legacy } = encodeEventItem(connectedEvent(session), undefined, EXPIRES);

    // Act
    const read = decodeEventItem(legacy);

    // Assert
    expect(read.event).toEqual(connectedEvent(session));
    expect(read).not.toHaveProperty('raw');
  });

  it.each([
    [
      'an item of another schema version',
      (item: Record<string, unknown>) => ({ ...item, schemaVersion: 2 }),
      /schemaVersion/,
    ],
    [
      'an event that is not JSON',
      (item: Record<string, unknown>) => ({ ...item, event: '{oops' }),
      /not JSON/,
    ],
    [
      'an event of an unknown kind',
      (item: Record<string, unknown>) => ({
        ...item,
        event: JSON.stringify({ ...connectedEvent(session), kind: 'reboot' }),
      }),
      /^event\.kind: /,
    ],
    [
      'a disconnect without its reason',
      (item: Record<string, unknown>) => {
        const { disconnectReason: _, ...event } = disconnectedEvent({
          ...session,
          disconnectReason: 'THROTTLED',
        });
        return { ...item, event: JSON.stringify(event) };
      },
      /^event\.disconnectReason: /,
    ],
    [
      'an event that names another device',
      (item: Record<string, unknown>) => ({
        ...item,
        event: JSON.stringify(connectedEvent({ ...session, deviceId: 'thing-2' })),
      }),
      /^event\.deviceId: the event names device thing-2/,
    ],
  ])('refuses %s with its key and the reason', (_label, damage, reason) => {
    // Arrange
    const item = encodeEventItem(connectedEvent(session), undefined, EXPIRES);
    const damaged = damage(item);

    // Act
    const refusal = refusalOf(() => decodeEventItem(damaged));

    // Assert
    expect(refusal.key).toBe(`event thing-1/${item.eventKey}`);
    expect(refusal.reason).toMatch(reason);
  });

  it('names an item without a readable key by what it has', () => {
    // Act
    const refusal = refusalOf(() => decodeEventItem({ event: '{}' }));

    // Assert
    expect(refusal.message).toMatch(/^stored record event \?\/\? cannot be read: deviceId: /);
  });
});

describe('the events of a stream batch', () => {
  it('reads every inserted record and leaves out, reported with its key and reason, the one that cannot be read', () => {
    // Arrange
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const first = encodeEventItem(connectedEvent(session), undefined, EXPIRES);
    const last = encodeEventItem(willEvent({ deviceId: 'thing-3', receivedAt: AT }), undefined, EXPIRES);
    const records = [
      streamRecord(first, '100'),
      streamRecord({ ...first, eventKey: 'bad', schemaVersion: 9 }, '101'),
      { eventName: 'REMOVE', dynamodb: { SequenceNumber: '102' } } satisfies DynamoDBRecord,
      streamRecord(last, '103'),
    ];

    // Act
    const events = eventsOfStreamRecords(records);

    // Assert
    expect(events).toEqual([
      { event: connectedEvent(session), sequenceNumber: '100' },
      { event: willEvent({ deviceId: 'thing-3', receivedAt: AT }), sequenceNumber: '103' },
    ]);
    expect(error).toHaveBeenCalledTimes(1);
    expect(error).toHaveBeenCalledWith('stored record cannot be read; left out', {
      sequenceNumber: '101',
      record: 'event thing-1/bad',
      reason: expect.stringMatching(/^schemaVersion: /),
    });
  });
});
