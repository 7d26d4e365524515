import { describe, expect, it } from 'vitest';
import { settledStatus } from '../../src/domain/queries.js';

describe('settledStatus: the status a device is listed by', () => {
  it.each([
    [{ status: 'connected', settled: true }, 'connected'],
    [{ status: 'connected', settled: false }, 'connected'],
    [{ status: 'disconnected', settled: false }, 'connected'],
    [{ status: 'disconnected', settled: true }, 'disconnected'],
  ] as const)('lists %j as %s (a drop inside W stays in the connected list)', (view, listed) => {
    // Act / Assert
    expect(settledStatus(view)).toBe(listed);
  });
});
