import { describe, expect, it } from 'vitest';
import { listedDisconnectedAt, settledStatus } from '../../src/domain/queries.js';

const W = 120_000;
const END = 1_000_000;

describe('settledStatus: the status a device is listed by', () => {
  it.each([
    [{ status: 'connected', since: END }, END + W, 'connected'],
    [{ status: 'disconnected', since: END }, END + W - 1, 'connected'],
    [{ status: 'disconnected', since: END }, END + W, 'disconnected'],
  ] as const)('lists %j at %d as %s (a drop inside W stays in the connected list)', (view, now, listed) => {
    // Act / Assert
    expect(settledStatus(view, now, W)).toBe(listed);
  });

  it('moves a disconnected device to the disconnected list once W has passed since its end, and no other', () => {
    // Act / Assert
    expect(listedDisconnectedAt({ status: 'disconnected', since: END }, W)).toBe(END + W);
    expect(listedDisconnectedAt({ status: 'connected', since: END }, W)).toBeUndefined();
    expect(listedDisconnectedAt(undefined, W)).toBeUndefined();
  });
});
