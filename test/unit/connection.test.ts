import { describe, expect, it } from 'vitest';
import {
  type ConnectionFacts,
  compareConnections,
  firstSeenAt,
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

describe('compareConnections at the same time', () => {
  it('orders by version when only one connection has a version', () => {
    // Arrange
    const withVersion = connection({ sessionIdentifier: 'a', startedAt: T, versionNumber: 0 });
    const without = connection({ sessionIdentifier: 'b', startedAt: T });

    // Act / Assert
    expect(compareConnections(without, withVersion, DEFAULT_SETTINGS)).toBeLessThan(0);
    expect(compareConnections(withVersion, without, DEFAULT_SETTINGS)).toBeGreaterThan(0);
  });

  it('orders by session identifier when neither has a version', () => {
    // Arrange
    const a = connection({ sessionIdentifier: 'birth:a', source: 'birth', startedAt: T });
    const b = connection({ sessionIdentifier: 'birth:b', source: 'birth', startedAt: T });

    // Act / Assert
    expect(compareConnections(a, b, DEFAULT_SETTINGS)).toBeLessThan(0);
    expect(compareConnections(b, a, DEFAULT_SETTINGS)).toBeGreaterThan(0);
    expect(compareConnections(a, a, DEFAULT_SETTINGS)).toBe(0);
  });
});
