import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ConnectionFacts,
  firstSeenAt,
  orderConnections,
  orderTime,
} from '../../src/domain/connection.js';
import { DEFAULT_SETTINGS } from '../../src/domain/settings.js';

const T = 1_793_520_000_000;
const connection = (fields: Partial<ConnectionFacts>): ConnectionFacts => ({
  sessionIdentifier: 's',
  source: 'presence',
  ...fields,
});

describe('orderTime', () => {
  it.each([
    ['its start', { startedAt: T, endedAt: T + 4, startSeenAt: T + 1, endSeenAt: T + 5 }, T],
    ['its end, when its start is unknown', { endedAt: T + 4, startSeenAt: T + 1, endSeenAt: T + 5 }, T + 4],
    ['when its start was first seen, when AWS gave no time', { startSeenAt: T + 1, endSeenAt: T + 5 }, T + 1],
    ['when its end was first seen, when nothing else is known', { endSeenAt: T + 5 }, T + 5],
    ['before everything, when nothing is known', {}, Number.NEGATIVE_INFINITY],
  ])('places a connection at %s', (_label, fields, expected) => {
    // Act / Assert
    expect(orderTime(connection(fields))).toBe(expected);
  });
});

describe('firstSeenAt', () => {
  it.each([
    ['the earlier of its start and end receive times', { startSeenAt: T + 9, endSeenAt: T + 3 }, T + 3],
    ['its end receive time when its start was never seen', { endSeenAt: T + 3 }, T + 3],
    ['never, when none of its events was seen', { startedAt: T }, Number.POSITIVE_INFINITY],
  ])('answers %s', (_label, fields, expected) => {
    // Act / Assert
    expect(firstSeenAt(connection(fields))).toBe(expected);
  });
});

describe('orderConnections at the same time', () => {
  it('puts a connection without a version before one with a version', () => {
    // Arrange
    const withVersion = connection({ sessionIdentifier: 'a', startedAt: T, versionNumber: 0 });
    const without = connection({ sessionIdentifier: 'b', startedAt: T });

    // Act / Assert
    expect(names(orderConnections([withVersion, without], DEFAULT_SETTINGS))).toEqual(['b', 'a']);
    expect(names(orderConnections([without, withVersion], DEFAULT_SETTINGS))).toEqual(['b', 'a']);
  });

  it('orders by session identifier when neither has a version', () => {
    // Arrange
    const a = connection({ sessionIdentifier: 'birth:a', source: 'birth', startedAt: T });
    const b = connection({ sessionIdentifier: 'birth:b', source: 'birth', startedAt: T });

    // Act / Assert
    expect(names(orderConnections([b, a], DEFAULT_SETTINGS))).toEqual(['birth:a', 'birth:b']);
  });
});

describe('orderConnections: epochs, then versions', () => {
  const at = (name: string, versionNumber: number, minutes: number) =>
    connection({ sessionIdentifier: name, versionNumber, startedAt: T + minutes * MINUTE });

  it('orders by version within the window, and by time across a gap beyond it', () => {
    // Arrange: the count restarts at 0 after two hours offline.
    const before = at('before', 25, 0);
    const restarted = at('restarted', 0, 120);
    const next = at('next', 1, 119);

    // Act / Assert
    expect(names(orderConnections([next, restarted, before], DEFAULT_SETTINGS))).toEqual([
      'before',
      'restarted',
      'next',
    ]);
  });

  it('gives one order whatever the delivery order, even where pairs of them disagree (A v5 0 min, B v1 14 min, C v0 28 min)', () => {
    // Arrange: A and B, and B and C, are within the 15-minute window; A and C are not. Compared pair by pair,
    // A > B > C, yet A < C by time: the three make one epoch and are ordered by version.
    const [a, b, c] = [at('A', 5, 0), at('B', 1, 14), at('C', 0, 28)];

    // Act
    const orders = permutations([a, b, c]).map((input) => names(orderConnections(input, DEFAULT_SETTINGS)));

    // Assert
    expect(new Set(orders.map((order) => order.join()))).toEqual(new Set(['C,B,A']));
  });
});

const MINUTE = 60_000;
const names = (connections: readonly ConnectionFacts[]) => connections.map((c) => c.sessionIdentifier);

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]),
  );
}

/**
 * Any set a record can hold, adversarial: versions that disagree with times, times that tie or lie just inside
 * and outside the window, connections known only by their end, births without versions.
 */
const connectionSet = (maxLength: number) =>
  fc
    .uniqueArray(
      fc.record({
        sessionIdentifier: fc.constantFrom('a', 'b', 'c'),
        versionNumber: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        minutes: fc.oneof(fc.integer({ min: 0, max: 90 }), fc.constantFrom(0, 15, 30, 45)),
        endOnly: fc.boolean(),
      }),
      { maxLength, selector: (c) => `${c.sessionIdentifier}/${c.versionNumber}` },
    )
    .map((raw) =>
      raw.map(({ sessionIdentifier, versionNumber, minutes, endOnly }) =>
        connection({
          sessionIdentifier,
          ...(versionNumber === undefined ? {} : { versionNumber }),
          ...(endOnly ? { endedAt: T + minutes * MINUTE } : { startedAt: T + minutes * MINUTE }),
        }),
      ),
    );

describe('orderConnections: a total order on any set', () => {
  it('gives the same order for every permutation of a set of up to five connections', () => {
    fc.assert(
      fc.property(connectionSet(5), (set) => {
        const expected = names(orderConnections(set, DEFAULT_SETTINGS));
        for (const input of permutations(set)) {
          expect(names(orderConnections(input, DEFAULT_SETTINGS))).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same order for shuffles of larger sets, as epochs in time order with versions rising within each', () => {
    const setAndShuffle = connectionSet(21).chain((set) =>
      fc.tuple(fc.constant(set), fc.shuffledSubarray(set, { minLength: set.length, maxLength: set.length })),
    );
    fc.assert(
      fc.property(setAndShuffle, ([set, shuffled]) => {
        const ordered = orderConnections(set, DEFAULT_SETTINGS);
        expect(names(orderConnections(shuffled, DEFAULT_SETTINGS))).toEqual(names(ordered));
        for (const [before, after] of ordered.slice(1).map((c, i) => [ordered[i], c] as const)) {
          const gap = orderTime(after) - orderTime(before as ConnectionFacts);
          const version = (c: ConnectionFacts | undefined) => c?.versionNumber ?? -1;
          // A new epoch starts exactly where the version falls: only after a gap beyond the window.
          if (version(after) < version(before)) expect(gap).toBeGreaterThan(DEFAULT_SETTINGS.versionWindowMs);
        }
      }),
      { numRuns: 300 },
    );
  });
});
