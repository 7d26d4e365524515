/**
 * Uptime per UTC day, folded from the settled timeline: each step the alert cursor passes over (a connection first
 * seen, an end first seen with no newer connection already there) is an edge, folded once, in order, into the
 * open day's figures. A day is finished when the timeline passes its midnight; finished days are saved on their
 * own (reads are then per day, never per event), and days in which nothing changed are not saved at all: they
 * carry the state of the day before them.
 */

import { type ConnectionEnd, type ConnectionFacts, firstSeenAt, isWillOnly } from './connection.js';
import type { DeviceQueries, UptimeDayQueries } from './queries.js';

const DAY_MS = 86_400_000;
/** The longest range one report covers. */
export const MAX_REPORT_DAYS = 90;

/** One UTC day of a device's connectivity. */
export interface UptimeDay {
  /** YYYY-MM-DD, UTC. */
  date: string;
  /** The state at 00:00; undefined when nothing was known of the device before this day. */
  startedConnected?: boolean;
  /** The state at 24:00: set once the day is finished. */
  endedConnected?: boolean;
  connectedMs: number;
  disconnectedMs: number;
  /** Outages that began this day: disconnected for longer than W. */
  outages: number;
  /** The longest of them, whole (it may end on a later day). */
  longestOutageMs: number;
}

/** Where the timeline stands: from `at` on, the device was `connected` (or not). */
export interface UptimeCursor {
  at: number;
  connected: boolean;
  /** The day of `at`, folded up to `at`. */
  day: UptimeDay;
  /** Finished days not saved yet: saved before the next write of the record, which then drops them. */
  unsaved?: UptimeDay[];
}

/** A change of the timeline: from `at` on, the device is `connected` (or not). */
export interface UptimeEdge {
  at: number;
  connected: boolean;
}

/** A move of the alert cursor over a connection's start or end, as the timeline sees it (alert-walk.ts). */
interface SettledMove {
  through: 'start' | 'end';
  step: { connection: ConnectionFacts; end?: ConnectionEnd; next?: ConnectionFacts };
}

/**
 * The edges of the moves the cursor made: connected from a connection's first sighting; disconnected from the
 * first sighting of its end, unless a newer connection was already seen by then (a takeover).
 */
export function uptimeEdges(passed: readonly SettledMove[]): UptimeEdge[] {
  return passed.flatMap(({ step: { connection, end, next }, through }): UptimeEdge[] => {
    if (through === 'start') {
      return isWillOnly(connection) ? [] : [{ at: firstSeenAt(connection), connected: true }];
    }
    if (!end || (next && firstSeenAt(next) <= end.seenAt)) return [];
    return [{ at: end.seenAt, connected: false }];
  });
}

export function utcDate(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

export function dayStart(date: string): number {
  return Date.parse(`${date}T00:00:00.000Z`);
}

function emptyDay(date: string, startedConnected: boolean | undefined): UptimeDay {
  const day: UptimeDay = { date, connectedMs: 0, disconnectedMs: 0, outages: 0, longestOutageMs: 0 };
  if (startedConnected !== undefined) day.startedConnected = startedConnected;
  return day;
}

function spend(day: UptimeDay, connected: boolean, ms: number): UptimeDay {
  return connected
    ? { ...day, connectedMs: day.connectedMs + ms }
    : { ...day, disconnectedMs: day.disconnectedMs + ms };
}

/**
 * Closes the stretch from `cursor.at` to `to` in the cursor's state: an outage (disconnected for longer than
 * `outageAfterMs`) is counted on the day it began, which is the open day; every midnight crossed finishes a day.
 */
function closeStretch(cursor: UptimeCursor, to: number, outageAfterMs: number): UptimeCursor {
  const { connected } = cursor;
  let day = cursor.day;
  const finished = [...(cursor.unsaved ?? [])];
  if (!connected && to - cursor.at > outageAfterMs) {
    day = {
      ...day,
      outages: day.outages + 1,
      longestOutageMs: Math.max(day.longestOutageMs, to - cursor.at),
    };
  }
  let from = cursor.at;
  const midnight = dayStart(day.date) + DAY_MS;
  if (midnight <= to) {
    finished.push({ ...spend(day, connected, midnight - from), endedConnected: connected });
    // The days between are not kept: a day nothing changed in carries the state of the day before it.
    const last = utcDate(to);
    day = emptyDay(last, connected);
    from = dayStart(last);
  }
  const closed: UptimeCursor = { at: to, connected, day: spend(day, connected, to - from) };
  if (finished.length > 0) closed.unsaved = finished;
  return closed;
}

/** Folds settled edges, in order, into the cursor. An edge older than the cursor (times are approximate) counts at it. */
export function foldUptime(
  cursor: UptimeCursor | undefined,
  edges: readonly UptimeEdge[],
  outageAfterMs: number,
): UptimeCursor | undefined {
  let current = cursor;
  for (const edge of edges) {
    if (!current) {
      current = { at: edge.at, connected: edge.connected, day: emptyDay(utcDate(edge.at), undefined) };
      continue;
    }
    if (edge.connected === current.connected) continue;
    const closed = closeStretch(current, Math.max(edge.at, current.at), outageAfterMs);
    current = { ...closed, connected: edge.connected };
  }
  return current;
}

/**
 * The timeline continued with `edges`. `restart`: the device just became a presence device, and what births and
 * wills made of its open stretch is forgotten (presence alone decides); days they finished are kept.
 */
export function continueUptime(
  previous: UptimeCursor | undefined,
  edges: readonly UptimeEdge[],
  options: { restart: boolean; outageAfterMs: number },
): UptimeCursor | undefined {
  if (!options.restart) return foldUptime(previous, edges, options.outageAfterMs);
  const next = foldUptime(undefined, edges, options.outageAfterMs);
  const carried = previous?.unsaved ?? [];
  if (!next || carried.length === 0) return next;
  return { ...next, unsaved: [...carried, ...(next.unsaved ?? [])] };
}

/** The cursor without the finished days just saved. */
export function withoutSavedDays(cursor: UptimeCursor, saved: readonly UptimeDay[]): UptimeCursor {
  const savedDates = new Set(saved.map((day) => day.date));
  const { unsaved, ...rest } = cursor;
  const left = (unsaved ?? []).filter((day) => !savedDates.has(day.date));
  return left.length > 0 ? { ...rest, unsaved: left } : rest;
}

// ---------------------------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------------------------

export interface UptimeDayReport {
  date: string;
  /** false: nothing was known of the device yet (or the day is still to come). */
  known: boolean;
  connectedMs: number;
  disconnectedMs: number;
  outages: number;
  longestOutageMs: number;
  /** An outage that began this day and has not ended. */
  ongoingOutage?: boolean;
}

export interface UptimeReport {
  from: string;
  to: string;
  days: UptimeDayReport[];
  connectedMs: number;
  disconnectedMs: number;
  outages: number;
  longestOutageMs: number;
}

export interface UptimeSources {
  /** Saved days: every one from `from` to `to`, and the newest one before `from` if any. */
  saved: readonly UptimeDay[];
  /** The record's cursor; undefined for a device with no settled edge yet. */
  cursor?: UptimeCursor;
  /** The live state, when it has moved past the settled timeline (an end inside W). */
  live?: UptimeEdge;
}

/** Every date from `from` to `to`, inclusive. */
export function datesBetween(from: string, to: string): string[] {
  const dates: string[] = [];
  for (let time = dayStart(from); time <= dayStart(to); time += DAY_MS) dates.push(utcDate(time));
  return dates;
}

/**
 * The report of the days from `from` to `to`: saved days as they are; the cursor's days, with the stretch from the
 * last settled edge to `now` added (in the live state from when it moved); any other day in the state of the
 * known day before it; days before anything was known, and days to come, unknown.
 */
export function uptimeReport(
  sources: UptimeSources,
  range: { from: string; to: string },
  now: number,
  outageAfterMs: number,
): UptimeReport {
  const known = new Map<string, UptimeDay>();
  for (const day of sources.saved) known.set(day.date, day);
  let ongoingFrom: number | undefined;
  if (sources.cursor) {
    let projected = sources.cursor;
    if (sources.live && sources.live.at > projected.at) {
      projected = foldUptime(projected, [sources.live], outageAfterMs) as UptimeCursor;
    }
    if (!projected.connected && now - projected.at > outageAfterMs) ongoingFrom = projected.at;
    const closed = closeStretch(projected, Math.max(now, projected.at), outageAfterMs);
    for (const day of [...(closed.unsaved ?? []), closed.day]) known.set(day.date, day);
  }
  const ordered = [...known.values()].sort((a, b) => a.date.localeCompare(b.date));
  const today = utcDate(now);
  const days = datesBetween(range.from, range.to).map((date): UptimeDayReport => {
    const day = known.get(date);
    const ongoingOutage = ongoingFrom !== undefined && utcDate(ongoingFrom) === date ? true : undefined;
    if (day) return { ...dayFigures(day), known: true, ...(ongoingOutage ? { ongoingOutage } : {}) };
    const before = ordered.filter((d) => d.date < date).at(-1);
    if (!before || before.endedConnected === undefined || date > today) return unknownDay(date);
    return {
      date,
      known: true,
      connectedMs: before.endedConnected ? DAY_MS : 0,
      disconnectedMs: before.endedConnected ? 0 : DAY_MS,
      outages: 0,
      longestOutageMs: 0,
    };
  });
  return {
    ...range,
    days,
    connectedMs: sum(days, (d) => d.connectedMs),
    disconnectedMs: sum(days, (d) => d.disconnectedMs),
    outages: sum(days, (d) => d.outages),
    longestOutageMs: Math.max(0, ...days.map((d) => d.longestOutageMs)),
  };
}

function dayFigures(day: UptimeDay): Omit<UptimeDayReport, 'known'> {
  const { date, connectedMs, disconnectedMs, outages, longestOutageMs } = day;
  return { date, connectedMs, disconnectedMs, outages, longestOutageMs };
}

function unknownDay(date: string): UptimeDayReport {
  return { date, known: false, connectedMs: 0, disconnectedMs: 0, outages: 0, longestOutageMs: 0 };
}

function sum<T>(items: readonly T[], pick: (item: T) => number): number {
  return items.reduce((total, item) => total + pick(item), 0);
}

/**
 * A device's uptime from `from` to `to`: one read of its record and one of its saved days, whatever its number of
 * events. Undefined for a device never seen.
 */
export async function readUptime(
  ports: { devices: Pick<DeviceQueries, 'getUptimeStanding'>; uptimeDays: UptimeDayQueries },
  deviceId: string,
  range: { from: string; to: string },
  now: number,
  outageAfterMs: number,
): Promise<UptimeReport | undefined> {
  const [standing, saved] = await Promise.all([
    ports.devices.getUptimeStanding(deviceId, now),
    ports.uptimeDays.savedDays(deviceId, range.from, range.to),
  ]);
  if (!standing) return undefined;
  const { view, uptime } = standing;
  const live = view && { at: view.since, connected: view.status === 'connected' };
  return uptimeReport(
    { saved, ...(uptime ? { cursor: uptime } : {}), ...(live ? { live } : {}) },
    range,
    now,
    outageAfterMs,
  );
}
