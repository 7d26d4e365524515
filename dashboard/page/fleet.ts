/**
 * Fleet at a glance: how many devices are connected, disconnected and unsettled, and why the disconnected ones
 * dropped: from `GET /fleet`, or, on an API without that route, from the public listing (`GET /devices?status=`).
 *
 * Pure: no DOM, no fetch.
 */
import type { DeviceListItem } from './model.js';

interface ReasonCount {
  reason: string;
  count: number;
}

export interface FleetSummary {
  connected: number;
  disconnected: number;
  /** null when the source does not say. */
  unsettled: number | null;
  /** Disconnected devices per reason, most frequent first. */
  byReason: ReasonCount[];
  /** Devices in an open episode (GET /fleet only). */
  inEpisode: { conflict: number; flapping: number } | null;
  /** Open fleet incidents (GET /fleet only). */
  openIncidents: number | null;
  /** False when the listing stopped at its page cap: the counts are then lower bounds. */
  complete: boolean;
  source: 'fleet-route' | 'listing';
}

/** What a disconnected device without a reason is counted under. */
export const NO_REASON = 'no reason given';

function sortReasons(counts: Map<string, number>): ReasonCount[] {
  return [...counts]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

export function summarizeListing(
  connected: readonly DeviceListItem[],
  disconnected: readonly DeviceListItem[],
  complete: boolean,
): FleetSummary {
  const reasons = new Map<string, number>();
  for (const device of disconnected) {
    const reason = device.disconnectReason ?? NO_REASON;
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  const unsettled =
    connected.filter((device) => !device.settled).length +
    disconnected.filter((device) => !device.settled).length;
  return {
    connected: connected.length,
    disconnected: disconnected.length,
    unsettled,
    byReason: sortReasons(reasons),
    inEpisode: null,
    openIncidents: null,
    complete,
    source: 'listing',
  };
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function reasonCounts(value: unknown): Map<string, number> | null {
  const counts = new Map<string, number>();
  if (Array.isArray(value)) {
    for (const entry of value) {
      if (!isObject(entry) || typeof entry.reason !== 'string') continue;
      const n = count(entry.count);
      if (n !== null) counts.set(entry.reason, n);
    }
    return counts;
  }
  if (isObject(value)) {
    for (const [reason, raw] of Object.entries(value)) {
      const n = count(raw);
      if (n !== null) counts.set(reason, n);
    }
    return counts;
  }
  return null;
}

/**
 * Reads the answer of `GET /fleet`: counts at the top level (or under `counts`), reasons as `{REASON: n}` (or
 * `[{reason, count}]`) under `disconnectedByReason`, `byReason` or `reasons`, the devices in an episode
 * (`inEpisode`) and the open incidents. Anything without both a connected and a disconnected count is not a fleet
 * answer.
 */
export function parseFleetRoute(body: unknown): FleetSummary | null {
  if (!isObject(body)) return null;
  const counts = isObject(body.counts) ? body.counts : body;
  const connected = count(counts.connected);
  const disconnected = count(counts.disconnected);
  if (connected === null || disconnected === null) return null;
  const reasons =
    reasonCounts(body.disconnectedByReason) ??
    reasonCounts(counts.disconnectedByReason) ??
    reasonCounts(body.byReason) ??
    reasonCounts(body.reasons) ??
    new Map<string, number>();
  return {
    connected,
    disconnected,
    unsettled: count(counts.unsettled),
    byReason: sortReasons(reasons),
    inEpisode: isObject(body.inEpisode)
      ? {
          conflict: count(body.inEpisode['clientid-conflict']) ?? 0,
          flapping: count(body.inEpisode.flapping) ?? 0,
        }
      : null,
    openIncidents: count(body.openIncidents),
    complete: true,
    source: 'fleet-route',
  };
}

/**
 * A listing that took more requests than this is read again at most every FLEET_RECOUNT_MS rather than at every
 * refresh: on a deployed stage every request costs, and a large fleet needs many.
 */
export const LARGE_LISTING_REQUESTS = 10;
export const FLEET_RECOUNT_MS = 30_000;

/** Whether the fleet should be listed again now, given the last listing (its request count and time). */
export function recountDue(last: { requests: number; at: number } | null, now: number): boolean {
  return last === null || last.requests <= LARGE_LISTING_REQUESTS || now - last.at >= FLEET_RECOUNT_MS;
}

/** Devices whose id contains `query` (case-insensitive), sorted by id. */
/**
 * The list the API lists a device in: its settled status (disconnected once the outage is confirmed; a drop inside W
 * stays connected).
 */
export const listedAs = (device: Pick<DeviceListItem, 'status' | 'settled'>): DeviceListItem['status'] =>
  device.status === 'disconnected' && device.settled ? 'disconnected' : 'connected';

export function searchDevices(
  devices: readonly DeviceListItem[],
  query: string,
  status: 'all' | DeviceListItem['status'],
): DeviceListItem[] {
  const needle = query.trim().toLowerCase();
  return devices
    .filter((device) => status === 'all' || listedAs(device) === status)
    .filter((device) => needle === '' || device.deviceId.toLowerCase().includes(needle))
    .sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
}
