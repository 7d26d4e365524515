/**
 * Fleet counts. Every device is counted as one kind (`connected.settled.-`, `disconnected.settled.CONNECTION_LOST`,
 * `connected.settled.-.clientid-conflict+flapping`, …), named by its view. The counts are the sum of the moves of
 * devices from one kind to another, added up per window of the devices' changes and applied once per window.
 */
import type { DeviceView } from './evaluate.js';
import type { FleetCounts } from './queries.js';

/** The kind a device is counted as, from its view; undefined while nothing is known of it. */
export function countedAs(view: DeviceView | undefined): string | undefined {
  if (!view) return undefined;
  const reason = view.status === 'disconnected' ? (view.disconnectReason ?? 'UNKNOWN') : '-';
  const kind = `${view.status}.${view.settled ? 'settled' : 'unsettled'}.${reason}`;
  return view.episodes ? `${kind}.${[...view.episodes].sort().join('+')}` : kind;
}

/** A device's change of kind (undefined: not counted before, or no longer). */
export interface CountMove {
  from?: string | undefined;
  to?: string | undefined;
}

/** How many devices each kind gains (or, negative, loses): moves added up, kinds that net to nothing left out. */
export type CountDeltas = Record<string, number>;

export function addMoves(deltas: Readonly<CountDeltas>, moves: Iterable<CountMove>): CountDeltas {
  const sum: CountDeltas = { ...deltas };
  for (const { from, to } of moves) {
    if (from === to) continue;
    if (from !== undefined) sum[from] = (sum[from] ?? 0) - 1;
    if (to !== undefined) sum[to] = (sum[to] ?? 0) + 1;
  }
  for (const [kind, delta] of Object.entries(sum)) if (delta === 0) delete sum[kind];
  return sum;
}

/** The fleet counts from how many devices each kind holds. */
export function fleetCountsFrom(kinds: Iterable<readonly [string, number]>): FleetCounts {
  const counts: FleetCounts = {
    connected: 0,
    disconnected: 0,
    unsettled: 0,
    disconnectedByReason: {},
    inEpisode: { 'clientid-conflict': 0, flapping: 0 },
  };
  for (const [kind, devices] of kinds) {
    const [status, settled, reason, episodes] = kind.split('.');
    // A kind every device has left stays at 0 in its counter item: no reason with no device is listed.
    if (reason === undefined || devices === 0) continue;
    for (const episode of episodes?.split('+') ?? []) {
      if (episode === 'clientid-conflict' || episode === 'flapping') counts.inEpisode[episode] += devices;
    }
    if (status === 'connected') counts.connected += devices;
    if (status === 'disconnected') {
      counts.disconnected += devices;
      counts.disconnectedByReason[reason] = (counts.disconnectedByReason[reason] ?? 0) + devices;
    }
    if (settled === 'unsettled') counts.unsettled += devices;
  }
  return counts;
}
