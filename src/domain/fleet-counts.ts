/**
 * Fleet counts. Every device is counted as one kind, named by its view in a few letters (`cs.-`, `ds.CL`,
 * `cs.-.cc+fl`: status and settledness, the disconnect reason's code, the episodes going on). The counts are the sum
 * of the moves of devices from one kind to another, added up per window of the devices' changes and applied once per
 * window. Short names keep a counter item, which holds every kind its devices ever had, under one write unit (1 KB).
 */
import type { DisconnectReason } from './device-events.js';
import type { EpisodeKind } from './episodes.js';
import type { DeviceView } from './evaluate.js';
import type { FleetCounts } from './queries.js';

/** Each reason's code in a kind's name. Codes are stored: never change one; a new reason gets a new code. */
const REASON_CODES: Readonly<Record<DisconnectReason, string>> = {
  AUTH_ERROR: 'AE',
  CLIENT_INITIATED_DISCONNECT: 'CID',
  CLIENT_ERROR: 'CE',
  CONNECTION_LOST: 'CL',
  DUPLICATE_CLIENTID: 'DC',
  FORBIDDEN_ACCESS: 'FA',
  MQTT_KEEP_ALIVE_TIMEOUT: 'KAT',
  SERVER_ERROR: 'SE',
  SERVER_INITIATED_DISCONNECT: 'SID',
  API_INITIATED_DISCONNECT: 'AID',
  THROTTLED: 'TH',
  WEBSOCKET_TTL_EXPIRATION: 'WTE',
  CUSTOMAUTH_TTL_EXPIRATION: 'CTE',
  UNKNOWN: 'UN',
  NONE: 'NO',
  LAST_WILL: 'LW',
};
const REASONS_BY_CODE = new Map(Object.entries(REASON_CODES).map(([reason, code]) => [code, reason]));
const EPISODE_CODES: Readonly<Record<EpisodeKind, string>> = { 'clientid-conflict': 'cc', flapping: 'fl' };
const EPISODES_BY_CODE = new Map(Object.entries(EPISODE_CODES).map(([episode, code]) => [code, episode]));
/** Kinds written before the short names (`disconnected.settled.CONNECTION_LOST.flapping`) are still read. */
const LONG_STATUS = new Set(['connected', 'disconnected']);

/** The kind a device is counted as, from its view; undefined while nothing is known of it. */
export function countedAs(view: DeviceView | undefined): string | undefined {
  if (!view) return undefined;
  const reason = view.status === 'connected' ? '-' : REASON_CODES[view.disconnectReason ?? 'UNKNOWN'];
  const kind = `${view.status === 'connected' ? 'c' : 'd'}${view.settled ? 's' : 'u'}.${reason}`;
  return view.episodes
    ? `${kind}.${view.episodes
        .map((episode) => EPISODE_CODES[episode])
        .sort()
        .join('+')}`
    : kind;
}

interface Kind {
  status: DeviceView['status'];
  settled: boolean;
  reason: string;
  episodes: string[];
}

/** A kind's parts, from its short name or its long one; undefined for what is not a kind. */
function kindOf(name: string): Kind | undefined {
  const [head, ...rest] = name.split('.') as [string, ...string[]];
  if (LONG_STATUS.has(head)) {
    const [settled, reason, episodes] = rest;
    if (reason === undefined) return undefined;
    return {
      status: head as Kind['status'],
      settled: settled === 'settled',
      reason,
      episodes: episodes?.split('+') ?? [],
    };
  }
  const [code, episodes] = rest;
  if (!/^[cd][su]$/.test(head) || code === undefined) return undefined;
  return {
    status: head[0] === 'c' ? 'connected' : 'disconnected',
    settled: head[1] === 's',
    reason: REASONS_BY_CODE.get(code) ?? code,
    episodes: (episodes?.split('+') ?? []).map((episode) => EPISODES_BY_CODE.get(episode) ?? episode),
  };
}

/** A device's change of kind (undefined: not counted before, or no longer). */
export interface CountMove {
  from?: string | undefined;
  to?: string | undefined;
}

/** How many devices each kind gains (or, negative, loses): moves added up, kinds that net to nothing left out. */
export type CountDeltas = Record<string, number>;

export function addMoves(deltas: Readonly<CountDeltas>, moves: Iterable<CountMove>): CountDeltas {
  // Added up in a map: an object whose keys come and go is slow to update (every window adds up its moves).
  const sum = new Map(Object.entries(deltas));
  for (const { from, to } of moves) {
    if (from === to) continue;
    if (from !== undefined) sum.set(from, (sum.get(from) ?? 0) - 1);
    if (to !== undefined) sum.set(to, (sum.get(to) ?? 0) + 1);
  }
  const added: CountDeltas = {};
  for (const [kind, delta] of sum) if (delta !== 0) added[kind] = delta;
  return added;
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
  for (const [name, devices] of kinds) {
    const kind = kindOf(name);
    // A kind every device has left stays at 0 in its counter item: no reason with no device is listed.
    if (kind === undefined || devices === 0) continue;
    for (const episode of kind.episodes) {
      if (episode === 'clientid-conflict' || episode === 'flapping') counts.inEpisode[episode] += devices;
    }
    if (kind.status === 'connected') counts.connected += devices;
    else {
      counts.disconnected += devices;
      counts.disconnectedByReason[kind.reason] = (counts.disconnectedByReason[kind.reason] ?? 0) + devices;
    }
    if (!kind.settled) counts.unsettled += devices;
  }
  return counts;
}
