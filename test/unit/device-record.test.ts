import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeDeviceRecord,
  encodeDeviceRecord,
  encodeDeviceRecordJson,
} from '../../src/adapters/dynamodb/device-record.js';
import { StoredRecordError } from '../../src/domain/errors.js';
import { evaluateDevice } from '../../src/domain/evaluate.js';
import { DEFAULT_SETTINGS } from '../../src/domain/settings.js';
import { VirtualFleetHarness } from '../../src/local/in-memory-ports.js';
import { fleetPlanArb, scenarioFromPlan } from '../fixtures/aws-model/index.js';

describe('the stored device record', () => {
  it('reads back exactly what was written, for every record a generated fleet produces', async () => {
    await fc.assert(
      fc.asyncProperty(fleetPlanArb({ maxDevices: 2 }), async (fleet) => {
        // Arrange: every record the reconciler writes along a generated history.
        const harness = new VirtualFleetHarness();
        const records = [];
        for (const line of scenarioFromPlan(fleet).lines) {
          await harness.deliver(line);
          const stored = await harness.store.load(line.deviceEvent.deviceId);
          if (stored) records.push({ deviceId: line.deviceEvent.deviceId, stored });
        }
        // Act
        const again = records.map(({ deviceId, stored }) =>
          decodeDeviceRecord(deviceId, encodeDeviceRecord(stored)),
        );
        // Assert: the record itself (its revision and the list it is keyed in are attributes beside it).
        expect(again).toEqual(
          records.map(({ stored: { revision: _revision, listedAs: _listedAs, ...record } }) => record),
        );
      }),
      { numRuns: 40 },
    );
  });

  it('keeps a record small: a device that stays connected fits in a few hundred bytes, and less once deflated', () => {
    // Arrange
    const facts = {
      deviceId: 'thing-1',
      presence: true,
      connections: [
        {
          sessionIdentifier: '2ee5e77e-7d9a-439f-a193-1b71b54ae1cc',
          versionNumber: 11,
          source: 'presence' as const,
          startedAt: 1_793_520_000_000,
          startSeenAt: 1_793_520_000_120,
        },
      ],
      wills: [],
      lastEventAt: 1_793_520_000_120,
      lastConnectedAt: 1_793_520_000_120,
    };
    const { cursor } = evaluateDevice(facts, undefined, 1_793_520_100_000, DEFAULT_SETTINGS);
    // Act
    const text = encodeDeviceRecordJson({ facts, cursor, outbox: [] });
    const stored = encodeDeviceRecord({ facts, cursor, outbox: [] });
    // Assert
    // A write costs one WRU per started KB: the record of a quiet device stays well inside the first.
    expect(text.length).toBeLessThan(450);
    expect(stored.length).toBeLessThan(text.length / 2);
  });

  /** A record as the first release of the deflated format stored it: its dictionary must read it forever. */
  const DEFLATED_BY_FORMAT_1 =
    'AZ2UMQ6AIAxF7+JOQkGseBvA6qb334wWxBJdZHy0BPJ++WvQEDlCJIWzD6q3flEBvFUQEaLrA0FKbBmyYUBvndG8WHdFYDS7L2jIVQKZE735+d' +
    'JfW63WU4gp50FwDkf55Lp136i7otJ4a5oe0pp3SKPN9VmvOEsOW96CkevvyRNcjuEB';

  it('reads a record deflated by the first release of its format, and the same record stored as JSON text before', () => {
    // Arrange
    const deflated = new Uint8Array(Buffer.from(DEFLATED_BY_FORMAT_1, 'base64'));
    // Act
    const record = decodeDeviceRecord('thing-1', deflated);
    const asText = decodeDeviceRecord('thing-1', encodeDeviceRecordJson(record));
    // Assert
    expect(record.facts.connections[0]).toMatchObject({
      sessionIdentifier: '2ee5e77e-7d9a-439f-a193-1b71b54ae1cc',
      versionNumber: 11,
      endReason: 'CONNECTION_LOST',
    });
    expect(record.facts.wills[0]?.payload).toEqual({ state: 'gone' });
    expect(record.recheckAt).toBe(1_793_520_180_200);
    expect(record.pendingChecks).toEqual([1_793_520_180_200]);
    expect(asText).toEqual(record);
  });

  it.each([
    ['a binary record of a format this code does not know', new Uint8Array([9, 1, 2, 3]), 'format 9'],
    [
      'a binary record that cannot be inflated',
      new Uint8Array([1, 255, 255, 255, 255]),
      'cannot be inflated',
    ],
  ])('refuses %s with its key and the reason', (_label, stored, reason) => {
    // Act
    const read = () => decodeDeviceRecord('thing-9', stored);
    // Assert
    expect(read).toThrow(StoredRecordError);
    expect(read).toThrow(/device thing-9/);
    expect(read).toThrow(new RegExp(reason));
  });

  it.each([
    ['a record of another schema version', '{"schemaVersion":2,"facts":{}}', 'schemaVersion'],
    ['text that is not JSON', 'not json', 'not JSON'],
    ['a connection without its identifier', null, 'connections.0.s'],
  ])('refuses %s with its key and the reason', (_label, text, reason) => {
    // Arrange
    const damaged =
      text ??
      JSON.stringify({
        schemaVersion: 3,
        presence: true,
        connections: [{ v: 1 }],
        wills: [],
        last: {},
        outbox: [],
      });
    // Act
    const read = () => decodeDeviceRecord('thing-9', damaged);
    // Assert
    expect(read).toThrow(StoredRecordError);
    expect(read).toThrow(/device thing-9/);
    expect(read).toThrow(new RegExp(reason));
  });
});
