import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeviceView } from '../../src/domain/evaluate.js';
import { addMoves, type CountMove, countedAs, fleetCountsFrom } from '../../src/domain/fleet-counts.js';

const view = (overrides: Partial<DeviceView>): DeviceView =>
  ({
    deviceId: 'thing-1',
    status: 'connected',
    settled: true,
    since: 0,
    sessionIdentifier: 's',
    ...overrides,
  }) as DeviceView;

describe('the kind a device is counted as', () => {
  it('names status, settledness, reason and the episodes going on in a few letters, in a fixed order', () => {
    // Arrange
    const fighting = view({ status: 'disconnected', settled: false, disconnectReason: 'DUPLICATE_CLIENTID' });
    // Act
    const kinds = [
      countedAs(undefined),
      countedAs(view({})),
      countedAs(view({ status: 'disconnected', settled: true })),
      countedAs({ ...fighting, episodes: ['flapping', 'clientid-conflict'] }),
    ];
    // Assert
    expect(kinds).toEqual([undefined, 'cs.-', 'ds.UN', 'du.DC.cc+fl']);
  });
});

const KINDS = [
  'cs.-',
  'cu.-',
  'ds.CL',
  'du.KAT',
  'cs.-.fl',
  'ds.DC.cc+fl',
  'disconnected.settled.CONNECTION_LOST',
];

describe('fleet counts from moves', () => {
  it('add up to what counting every device once by its last kind gives, in any grouping of the moves', () => {
    fc.assert(
      fc.property(
        // Each device's kinds over time (undefined: not counted), and where the moves are cut into windows.
        fc.array(fc.array(fc.option(fc.constantFrom(...KINDS), { nil: undefined }), { maxLength: 8 }), {
          maxLength: 12,
        }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (histories, cuts) => {
          // Arrange: every device's moves from one kind to the next, interleaved across devices.
          const moves: CountMove[] = [];
          const longest = Math.max(0, ...histories.map((h) => h.length));
          for (let step = 0; step < longest; step += 1) {
            for (const history of histories) {
              if (step < history.length) moves.push({ from: history[step - 1], to: history[step] });
            }
          }
          const bounds = [...new Set(cuts.map((cut) => cut % (moves.length + 1)))].sort((a, b) => a - b);
          const windows = [0, ...bounds, moves.length]
            .slice(0, -1)
            .map((start, i, all) => moves.slice(start, all[i + 1] ?? moves.length));
          // Act: each window summed on its own, the sums then added, as the counter items add them.
          const total: Record<string, number> = {};
          for (const window of windows) {
            for (const [kind, delta] of Object.entries(addMoves({}, window))) {
              total[kind] = (total[kind] ?? 0) + delta;
            }
          }
          // Assert: the oracle counts each device by its last kind.
          const expected: Record<string, number> = {};
          for (const history of histories) {
            const last = history[history.length - 1];
            if (last !== undefined) expected[last] = (expected[last] ?? 0) + 1;
          }
          expect(fleetCountsFrom(Object.entries(total))).toEqual(fleetCountsFrom(Object.entries(expected)));
          expect(Object.values(addMoves({}, moves)).every((delta) => delta !== 0)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('carries the deltas of earlier batches of the window, and leaves out the kinds that net to nothing', () => {
    // Arrange
    const carried = { 'cs.-': -1, 'ds.CL': 1 };
    // Act
    const sum = addMoves(carried, [
      { from: 'ds.CL', to: 'cs.-' },
      { from: 'cs.-', to: 'cs.-' },
      { to: 'cu.-' },
    ]);
    // Assert
    expect(sum).toEqual({ 'cu.-': 1 });
  });

  it('reads status, unsettled devices, reasons and episodes from short and long kinds, ignoring what is not a kind', () => {
    // Arrange: kinds written before the short names (long) beside short ones, in the same counter items.
    const kinds: Array<[string, number]> = [
      ['cs.-', 3],
      ['connected.settled.-', 2],
      ['cu.-.fl', 1],
      ['ds.CL', 1],
      ['disconnected.settled.CONNECTION_LOST', 2],
      ['du.DC.cc+fl', 1],
      ['disconnected.unsettled.DUPLICATE_CLIENTID.clientid-conflict+flapping', 1],
      ['ds.KAT', 0],
      ['cs.-.an-episode-of-a-later-version', 1],
      ['ds.A_REASON_OF_A_LATER_VERSION', 0],
      ['revision', 7],
      ['xs.CL', 4],
      ['ds', 4],
      ['disconnected.settled', 4],
    ];
    // Act
    const counts = fleetCountsFrom(kinds);
    // Assert
    expect(counts).toEqual({
      connected: 7,
      disconnected: 5,
      unsettled: 3,
      disconnectedByReason: { CONNECTION_LOST: 3, DUPLICATE_CLIENTID: 2 },
      inEpisode: { 'clientid-conflict': 2, flapping: 3 },
    });
  });
});
