import { describe, expect, it } from 'vitest';
import { groupByDevice } from '../../src/local/replay.js';

const presence = (deviceId: string, at: number) => ({
  at,
  topic: `$aws/events/presence/connected/${deviceId}`,
  payload: { clientId: deviceId },
});
const will = (deviceId: string, at: number) => ({
  at,
  topic: `devices/${deviceId}/will`,
  payload: {},
  clientId: deviceId,
});

describe('the replay groups of devices', () => {
  it("keeps every device's lines, wills included, in one group and in their order", () => {
    // Arrange
    const lines = [
      presence('a', 1),
      presence('b', 2),
      will('a', 3),
      presence('c', 4),
      presence('a', 5),
      will('b', 6),
      presence('d', 7),
    ];

    // Act
    const groups = groupByDevice(lines, 3);

    // Assert
    const deviceOf = (line: { topic: string; clientId?: string }) =>
      line.clientId ?? line.topic.split('/').pop();
    for (const device of ['a', 'b', 'c', 'd']) {
      const owning = groups.filter((group) => group.some((line) => deviceOf(line) === device));
      expect(owning, device).toHaveLength(1);
      expect(owning[0]?.filter((line) => deviceOf(line) === device)).toEqual(
        lines.filter((line) => deviceOf(line) === device),
      );
    }
    expect(groups.flat()).toHaveLength(lines.length);
  });

  it('balances the groups by lines, the largest devices first', () => {
    // Arrange
    const lines = [
      ...[1, 2, 3, 4].map((at) => presence('busy', at)),
      ...[5, 6].map((at) => presence('calm-1', at)),
      ...[7, 8].map((at) => presence('calm-2', at)),
    ];

    // Act
    const groups = groupByDevice(lines, 2);

    // Assert
    expect(groups.map((group) => group.length).sort()).toEqual([4, 4]);
  });

  it('makes no empty group when there are fewer devices than groups', () => {
    // Act
    const groups = groupByDevice([presence('only', 1)], 4);

    // Assert
    expect(groups).toEqual([[presence('only', 1)]]);
  });
});
