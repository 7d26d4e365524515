/**
 * From a device's facts, its alert cursor and the time, derives its state, the alerts owed, when to look again,
 * and the smaller facts worth keeping. Four phases, each a pure function of immutable values:
 *   1. order the connections           (orderConnections, connection.ts)
 *   2. work out how each one ended     (presenceEnds: wills attached as evidence; lwtEnds: wills end connections)
 *   3. decide each end's fate          (decideFates: open, pending, passed, outage)
 *   4. walk the alerts from the cursor (walkAlerts), then keep what can still change an answer (compact)
 *   5. count the ends that make episodes (decideEpisodes: clientid-conflict and flapping, see episodes.ts)
 * docs/how-state-is-derived.md tells the same story in prose.
 */
import {
  type ConnectionEnd,
  type ConnectionFacts,
  type ConnectionRef,
  compareConnections,
  connectionName,
  dropUndefined,
  earliest,
  firstSeenAt,
  orderConnections,
  orderTime,
  refOf,
  sameConnection,
} from './connection.js';
import {
  type DisconnectReason,
  isAbruptReason,
  LAST_WILL_REASON,
  type PresenceDisconnectReason,
} from './device-events.js';
import type { DeviceFacts, WillFacts } from './device-facts.js';
import {
  activeEpisodes,
  detectEpisodes,
  type EpisodeCursor,
  type EpisodeKind,
  type EpisodeMark,
  flapMarks,
  keepMarks,
  markTime,
  median,
  mergeMarks,
  takeoverMarks,
} from './episodes.js';
import type { PresenceSettings } from './settings.js';
import { continueUptime, type UptimeCursor, type UptimeEdge } from './uptime.js';

export type AlertType = 'offline' | 'online' | EpisodeKind;

/**
 * How far the alert walk has gone: every alert about `at` up to its start (its online alert) or its end (its
 * offline alert) is decided, and so is everything about the connections before it, which the record forgets.
 */
export interface AlertCursor {
  at: ConnectionRef;
  /** `orderTime` of `at`, so that connections can be placed against it after it is gone. */
  atTime: number;
  through: 'start' | 'end';
  /** Set when `at`'s end opened an outage: when it was first seen. The next connection owes an online alert. */
  outageSince?: number;
  /** Ids of the alerts already decided beyond `at` while an undecided end held the cursor: never decided twice. */
  ahead?: string[];
  /** The last time each kind of episode rule was met in its latest alerted episode. */
  episodes?: EpisodeCursor;
  /** The settled timeline folded into uptime per day (uptime.ts). */
  uptime?: UptimeCursor;
}

export interface AlertDecision extends ConnectionRef {
  /** `device/type/sessionIdentifier/versionNumber`: one alert of a type per connection, ever. */
  alertId: string;
  type: AlertType;
  deviceId: string;
  disconnectReason?: DisconnectReason;
  abrupt?: boolean;
  lastWill?: unknown;
  lastWillAt?: number;
  /** offline: when the end was first seen; online: when the new connection was first seen. */
  since: number;
  /** The earliest time the contract allows this alert. */
  earliestAt: number;
  /** online only: how long the device was offline. */
  outageMs?: number;
  /** Episodes only: the ends counted in the window that ends at `since`, and the window. */
  count?: number;
  windowMs?: number;
  /** clientid-conflict: the distinct principals and addresses of the connections involved. */
  principals?: string[];
  ipAddresses?: string[];
  /** flapping: the median time away, and the ends per reason. */
  medianGapMs?: number;
  reasons?: Partial<Record<PresenceDisconnectReason, number>>;
}

export interface DeviceView {
  deviceId: string;
  status: 'connected' | 'disconnected';
  /** false while a change may still happen inside W. */
  settled: boolean;
  /** When the current status began: the end's or the connection's first receive time. */
  since: number;
  sessionIdentifier: string;
  versionNumber?: number;
  disconnectReason?: DisconnectReason;
  abrupt?: boolean;
  lastWill?: unknown;
  lastWillAt?: number;
  lastEventAt?: number;
  lastConnectedAt?: number;
  lastDisconnectedAt?: number;
  /** The episodes going on now (episodes.ts `activeEpisodes`); absent when none. */
  episodes?: EpisodeKind[];
}

export interface Evaluation {
  /** Undefined while the device has no connection at all. */
  view?: DeviceView;
  alerts: AlertDecision[];
  cursor?: AlertCursor;
  /**
   * When the device must be evaluated again even if no event arrives: an end that may become an outage, or the end
   * of an episode (the device leaves the fleet's count of devices in one).
   */
  recheckAt?: number;
  /** The facts worth keeping: what can still change an answer. */
  facts: DeviceFacts;
  /** Wills dropped without any presence end to explain them (presence devices only). */
  unexplainedWills: WillFacts[];
}

/** Unattached wills of a presence device kept while their end may still arrive. */
const MAX_UNATTACHED_WILLS = 8;

// ---------------------------------------------------------------------------------------------------------------
// Phase 2: how each connection ended
// ---------------------------------------------------------------------------------------------------------------

interface Ends {
  /** By index in the ordered connections. */
  byIndex: ReadonlyMap<number, ConnectionEnd>;
  /** Wills that explain an end, whether or not they were the one shown. */
  explained: ReadonlySet<string>;
  /** The eventId of the will each end shows, by index. */
  shownWill: ReadonlyMap<number, string>;
}

function willDistance(will: WillFacts, connection: ConnectionFacts): number {
  const bySeen =
    connection.endSeenAt === undefined ? Infinity : Math.abs(will.receivedAt - connection.endSeenAt);
  const byTimestamp =
    connection.endedAt === undefined ? Infinity : Math.abs(will.receivedAt - connection.endedAt);
  return Math.min(bySeen, byTimestamp);
}

/**
 * Presence devices: ends come from disconnected events only. Each will is attached to the abrupt end nearest in
 * time within willMatchMs (on a tie, the newer connection); each end shows the nearest of its wills.
 */
export function presenceEnds(
  ordered: readonly ConnectionFacts[],
  wills: readonly WillFacts[],
  settings: PresenceSettings,
): Ends {
  const nearestWill = new Map<number, { will: WillFacts; distance: number }>();
  const explained = new Set<string>();
  for (const will of wills) {
    let best: { index: number; distance: number } | undefined;
    ordered.forEach((connection, index) => {
      if (connection.endReason === undefined || !isAbruptReason(connection.endReason)) return;
      const distance = willDistance(will, connection);
      if (distance <= settings.willMatchMs && distance <= (best?.distance ?? Infinity))
        best = { index, distance };
    });
    if (!best) continue;
    explained.add(will.eventId);
    const current = nearestWill.get(best.index);
    const closer =
      !current ||
      best.distance < current.distance ||
      (best.distance === current.distance && will.receivedAt < current.will.receivedAt);
    if (closer) nearestWill.set(best.index, { will, distance: best.distance });
  }
  const byIndex = new Map<number, ConnectionEnd>();
  ordered.forEach((connection, index) => {
    if (connection.endReason === undefined || connection.endSeenAt === undefined) return;
    const will = nearestWill.get(index)?.will;
    byIndex.set(index, {
      seenAt: connection.endSeenAt,
      reason: connection.endReason,
      abrupt: isAbruptReason(connection.endReason),
      lastWill: will?.payload,
      lastWillAt: will?.receivedAt,
    });
  });
  const shownWill = new Map([...nearestWill].map(([index, { will }]) => [index, will.eventId]));
  return { byIndex, explained, shownWill };
}

/** A birth connection with no birth: only its will tells of it, so its start is unknown. */
function isWillOnly(connection: ConnectionFacts): boolean {
  return connection.source === 'birth' && connection.startSeenAt === undefined;
}

/** A connection that only a will tells of: a device without presence whose will came with no birth before it. */
function willOnlyConnection(will: WillFacts): ConnectionFacts {
  return {
    sessionIdentifier: `will:${will.eventId}`,
    source: 'birth',
    startedAt: will.receivedAt,
    endSeenAt: will.receivedAt,
  };
}

/**
 * Devices without presence events: a will ends the newest connection (birth) that started before it. A will
 * whose connection already ended changes nothing; a will with no connection before it stands for one.
 */
export function lwtConnections(
  births: readonly ConnectionFacts[],
  wills: readonly WillFacts[],
  settings: PresenceSettings,
): { ordered: ConnectionFacts[]; ends: Ends } {
  let ordered = orderConnections(births, settings);
  const endOf = new Map<ConnectionFacts, ConnectionEnd>();
  const used = new Set<string>();
  const byTime = [...wills].sort((a, b) => a.receivedAt - b.receivedAt || a.eventId.localeCompare(b.eventId));
  for (const will of byTime) {
    const target = ordered.filter((c) => orderTime(c) <= will.receivedAt).at(-1);
    const end: ConnectionEnd = {
      seenAt: will.receivedAt,
      reason: LAST_WILL_REASON,
      abrupt: true,
      lastWill: will.payload,
      lastWillAt: will.receivedAt,
    };
    if (!target) {
      const connection = willOnlyConnection(will);
      ordered = orderConnections([...ordered, connection], settings);
      endOf.set(connection, end);
      used.add(will.eventId);
    } else if (!endOf.has(target)) {
      endOf.set(target, end);
      used.add(will.eventId);
    }
  }
  const byIndex = new Map<number, ConnectionEnd>();
  ordered.forEach((connection, index) => {
    const end = endOf.get(connection);
    if (end) byIndex.set(index, end);
  });
  return { ordered, ends: { byIndex, explained: used, shownWill: new Map() } };
}

// ---------------------------------------------------------------------------------------------------------------
// Phase 3: the fate of each end
// ---------------------------------------------------------------------------------------------------------------

/**
 * open: the newest connection, not ended. pending: may still become an outage (or, for an older connection with
 * no known end, its end may still arrive). passed: ended or superseded without an outage. outage: ended, and no
 * newer connection was seen within W of the end being first seen.
 */
export type Fate =
  | { kind: 'open' }
  | { kind: 'pending'; recheckAt?: number }
  | { kind: 'passed' }
  | { kind: 'outage'; end: ConnectionEnd };

function alertsOn(end: ConnectionEnd, settings: PresenceSettings): boolean {
  return settings.alertOn === 'all' || end.abrupt;
}

export function decideFates(
  ordered: readonly ConnectionFacts[],
  ends: Ends,
  now: number,
  settings: PresenceSettings,
): Fate[] {
  return ordered.map((_, index): Fate => {
    const next = ordered[index + 1];
    const end = ends.byIndex.get(index);
    if (!end) {
      if (!next) return { kind: 'open' };
      // Its end may still come, delivered late; once W has passed since the newer connection, it cannot matter.
      return firstSeenAt(next) + settings.settleWindowMs <= now ? { kind: 'passed' } : { kind: 'pending' };
    }
    if (!alertsOn(end, settings)) return { kind: 'passed' };
    const deadline = end.seenAt + settings.settleWindowMs;
    if (next) return firstSeenAt(next) > deadline ? { kind: 'outage', end } : { kind: 'passed' };
    return deadline <= now ? { kind: 'outage', end } : { kind: 'pending', recheckAt: deadline };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Phase 4: the alert walk
// ---------------------------------------------------------------------------------------------------------------

function cursorPosition(cursor: AlertCursor): ConnectionFacts {
  return { ...cursor.at, source: 'presence', startedAt: cursor.atTime };
}

/** Where a connection stands against the cursor: < 0 before it, 0 the cursor's own, > 0 after. */
function againstCursor(connection: ConnectionFacts, cursor: AlertCursor, settings: PresenceSettings): number {
  if (sameConnection(connection, cursor.at)) return 0;
  return compareConnections(connection, cursorPosition(cursor), settings);
}

interface Walk {
  alerts: AlertDecision[];
  cursor?: AlertCursor;
  /** The steps the cursor moved over, in order: each is settled, and passed once. */
  steps: Array<{ index: number; through: AlertCursor['through'] }>;
}

/**
 * Walks the connections after the cursor, deciding online alerts at starts and offline alerts at ends. The cursor
 * moves over a run of decided steps only; an undecided end holds it, yet the walk goes on so that newer
 * connections still get their alerts; the cursor remembers those (`ahead`), so no alert is ever decided twice.
 */
export function walkAlerts(
  deviceId: string,
  ordered: readonly ConnectionFacts[],
  fates: readonly Fate[],
  cursor: AlertCursor | undefined,
  settings: PresenceSettings,
): Walk {
  const alerts: AlertDecision[] = [];
  const alreadyDecided = new Set(cursor?.ahead);
  let nextCursor = cursor;
  let outageSince = cursor?.outageSince;
  let holding = false;
  const ahead: string[] = [];
  const steps: Walk['steps'] = [];
  const advance = (index: number, through: AlertCursor['through']) => {
    if (holding) return;
    const connection = ordered[index] as ConnectionFacts;
    steps.push({ index, through });
    nextCursor = { at: refOf(connection), atTime: orderTime(connection), through };
    if (outageSince !== undefined) nextCursor.outageSince = outageSince;
  };
  const decide = (alert: Omit<AlertDecision, 'alertId'>) => {
    const alertId = `${deviceId}/${alert.type}/${connectionName(alert)}`;
    if (!alreadyDecided.has(alertId)) alerts.push({ alertId, ...alert });
    if (holding) ahead.push(alertId);
  };
  ordered.forEach((connection, index) => {
    const position = cursor ? againstCursor(connection, cursor, settings) : 1;
    if (position < 0 || (position === 0 && cursor?.through === 'end')) return;
    if (position > 0) {
      if (outageSince !== undefined) {
        const since = firstSeenAt(connection);
        decide({
          type: 'online',
          deviceId,
          ...refOf(connection),
          since,
          earliestAt: since,
          outageMs: Math.max(0, since - outageSince),
        });
        outageSince = undefined;
      }
      advance(index, 'start');
    }
    const fate = fates[index] as Fate;
    if (fate.kind === 'outage') {
      decide({
        type: 'offline',
        deviceId,
        ...refOf(connection),
        disconnectReason: fate.end.reason,
        abrupt: fate.end.abrupt,
        lastWill: fate.end.lastWill,
        lastWillAt: fate.end.lastWillAt,
        since: fate.end.seenAt,
        earliestAt: fate.end.seenAt + settings.settleWindowMs,
      });
      outageSince = fate.end.seenAt;
    }
    if (fate.kind === 'outage' || fate.kind === 'passed') advance(index, 'end');
    else holding = true;
  });
  if (nextCursor && ahead.length > 0) nextCursor = { ...nextCursor, ahead };
  else if (nextCursor?.ahead) {
    const { ahead: _, ...rest } = nextCursor;
    nextCursor = rest;
  }
  return { alerts, cursor: nextCursor, steps };
}

/**
 * The uptime edges of the steps the cursor moved over: connected from a connection's first sighting; disconnected
 * from the first sighting of its end, unless a newer connection was already seen by then (a takeover).
 */
function uptimeEdges(ordered: readonly ConnectionFacts[], ends: Ends, steps: Walk['steps']): UptimeEdge[] {
  return steps.flatMap(({ index, through }): UptimeEdge[] => {
    const connection = ordered[index] as ConnectionFacts;
    if (through === 'start')
      return isWillOnly(connection) ? [] : [{ at: firstSeenAt(connection), connected: true }];
    const end = ends.byIndex.get(index);
    const next = ordered[index + 1];
    if (!end || (next && firstSeenAt(next) <= end.seenAt)) return [];
    return [{ at: end.seenAt, connected: false }];
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Phase 5: episodes
// ---------------------------------------------------------------------------------------------------------------

/** How long after its end a mark may still be learned: a first delivery retried, or a late rule invocation. */
const LATE_MARK_MS = 10 * 60_000;

function episodeAlert(
  deviceId: string,
  kind: EpisodeKind,
  evidence: { at: EpisodeMark; marks: EpisodeMark[]; windowMs: number },
  ordered: readonly ConnectionFacts[],
): AlertDecision {
  const { at, marks, windowMs } = evidence;
  const ended = ordered.find((c) => c.endSeenAt === at.at) ?? (ordered.at(-1) as ConnectionFacts);
  const reasons: Partial<Record<PresenceDisconnectReason, number>> = {};
  for (const mark of marks) reasons[mark.reason] = (reasons[mark.reason] ?? 0) + 1;
  const union = (pick: (mark: EpisodeMark) => string[] | undefined) =>
    [...new Set(marks.flatMap((mark) => pick(mark) ?? []))].sort();
  const common = {
    alertId: `${deviceId}/${kind}/${at.at}`,
    type: kind,
    deviceId,
    ...refOf(ended),
    since: markTime(at),
    earliestAt: markTime(at),
    count: marks.length,
    windowMs,
  };
  return kind === 'clientid-conflict'
    ? { ...common, principals: union((m) => m.principals), ipAddresses: union((m) => m.ipAddresses) }
    : { ...common, medianGapMs: median(marks.map((mark) => mark.gapMs ?? 0)), reasons };
}

/**
 * Counts the ends that make episodes (presence devices only: only presence tells takeovers and returns apart),
 * decides the episodes that open, and keeps the marks a later decision may need.
 */
export function decideEpisodes(
  facts: DeviceFacts,
  ordered: readonly ConnectionFacts[],
  fates: readonly Fate[],
  ends: Ends,
  alertCursor: AlertCursor | undefined,
  now: number,
  settings: PresenceSettings,
): { alerts: AlertDecision[]; cursor?: EpisodeCursor; marks?: DeviceFacts['marks'] } {
  const cursor = alertCursor?.episodes;
  if (!facts.presence) return { alerts: [], cursor, marks: facts.marks };
  // A connection before the alert cursor is back in the facts through a late delivery: a copy of an end the
  // record forgot (its first-seen time is the copy's, so it cannot tell a flap), or the first news of a connection
  // taken over before anything of it was seen. A takeover counts if fewer takeovers than the threshold lie between
  // it and the cursor (versions count connections): one counted before it was forgotten had at least that many
  // newer marks kept beside it; one still kept is recognised by its timestamp (mergeMarks).
  const kept = (connection: ConnectionFacts | undefined) =>
    connection !== undefined && (!alertCursor || againstCursor(connection, alertCursor, settings) >= 0);
  const recentTakeover = (index: number) => {
    const connection = ordered[index] as ConnectionFacts;
    if (kept(connection)) return true;
    // Not kept, so there is a cursor; a version missing on either side (births) makes this NaN: not counted.
    const behind = Number((alertCursor as AlertCursor).at.versionNumber) - Number(connection.versionNumber);
    return behind > 0 && behind < settings.episodes['clientid-conflict'].minCount;
  };
  const derived: Record<EpisodeKind, EpisodeMark[]> = {
    'clientid-conflict': takeoverMarks(ordered, recentTakeover),
    flapping: flapMarks(
      ordered,
      (index) => kept(ordered[index]) && ends.byIndex.has(index) && fates[index]?.kind === 'passed',
    ),
  };
  const alerts: AlertDecision[] = [];
  const nextCursor: EpisodeCursor = { ...cursor };
  const marks: NonNullable<DeviceFacts['marks']> = {};
  for (const kind of ['clientid-conflict', 'flapping'] as const) {
    const rule = settings.episodes[kind];
    const all = mergeMarks(facts.marks?.[kind] ?? [], derived[kind]);
    const { opened, lastMetAt } = detectEpisodes(kind, all, rule, cursor?.[kind]);
    for (const evidence of opened) alerts.push(episodeAlert(facts.deviceId, kind, evidence, ordered));
    if (lastMetAt !== undefined) nextCursor[kind] = lastMetAt;
    const kept = keepMarks(all, rule, now, LATE_MARK_MS);
    if (kept.length > 0) marks[kind] = kept;
  }
  return {
    alerts,
    cursor: Object.keys(nextCursor).length > 0 ? nextCursor : undefined,
    marks: Object.keys(marks).length > 0 ? marks : undefined,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// What to keep, and the view
// ---------------------------------------------------------------------------------------------------------------

/**
 * Keeps the connections from the cursor on (the walk never looks before it) and the wills that can still matter:
 * for a presence device, the will shown on a kept end and unattached wills young enough to meet their end; for a
 * device without presence, the wills from the cursor's connection on.
 */
function compact(
  facts: DeviceFacts,
  ordered: readonly ConnectionFacts[],
  ends: Ends,
  cursor: AlertCursor | undefined,
  now: number,
  settings: PresenceSettings,
): { facts: DeviceFacts; unexplainedWills: WillFacts[] } {
  const stillNeeded = (c: ConnectionFacts) => !cursor || againstCursor(c, cursor, settings) >= 0;
  const connections = facts.connections
    .filter((c) => (!facts.presence || c.source === 'presence') && stillNeeded(c))
    .map(withoutStaleIdentity);
  if (!facts.presence) {
    const from = cursor?.atTime ?? Number.NEGATIVE_INFINITY;
    const wills = facts.wills.filter(
      (w) =>
        w.receivedAt >= from && (ends.explained.has(w.eventId) || w.receivedAt + settings.willMatchMs > now),
    );
    return { facts: { ...facts, connections, wills }, unexplainedWills: [] };
  }
  const keptShown = new Set(
    [...ends.shownWill].flatMap(([index, eventId]) =>
      stillNeeded(ordered[index] as ConnectionFacts) ? [eventId] : [],
    ),
  );
  const unattached = facts.wills
    .filter((w) => !ends.explained.has(w.eventId))
    .sort((a, b) => b.receivedAt - a.receivedAt || a.eventId.localeCompare(b.eventId));
  const waiting = unattached
    .filter((w) => w.receivedAt + 2 * settings.willMatchMs > now)
    .slice(0, MAX_UNATTACHED_WILLS);
  const wills = facts.wills.filter((w) => keptShown.has(w.eventId) || waiting.includes(w));
  const unexplainedWills = unattached.filter((w) => !waiting.includes(w));
  return { facts: { ...facts, connections, wills }, unexplainedWills };
}

/** Who held a connection only matters while it may be, or was, taken over. */
function withoutStaleIdentity(connection: ConnectionFacts): ConnectionFacts {
  if (connection.endReason === undefined || connection.endReason === 'DUPLICATE_CLIENTID') return connection;
  const { principalIdentifier: _p, ipAddress: _i, ...rest } = connection;
  return rest;
}

function withEpisodes(view: DeviceView | undefined, kinds: EpisodeKind[]): DeviceView | undefined {
  return view && kinds.length > 0 ? { ...view, episodes: kinds } : view;
}

function viewOf(
  facts: DeviceFacts,
  ordered: readonly ConnectionFacts[],
  ends: Ends,
  recheckAt: number | undefined,
): DeviceView | undefined {
  const index = ordered.length - 1;
  const newest = ordered[index];
  if (!newest) return undefined;
  const end = ends.byIndex.get(index);
  return {
    deviceId: facts.deviceId,
    status: end ? 'disconnected' : 'connected',
    settled: recheckAt === undefined,
    since: end ? end.seenAt : (newest.startSeenAt ?? firstSeenAt(newest)),
    sessionIdentifier: newest.sessionIdentifier,
    versionNumber: newest.versionNumber,
    disconnectReason: end?.reason,
    abrupt: end?.abrupt,
    lastWill: end?.lastWill,
    lastWillAt: end?.lastWillAt,
    lastEventAt: facts.lastEventAt,
    lastConnectedAt: facts.lastConnectedAt,
    lastDisconnectedAt: facts.lastDisconnectedAt,
  };
}

/**
 * A device becomes a presence device with its first presence event. What births and wills decided before is
 * forgotten, but an outage they opened stays open: the first presence connection owes its online alert.
 * (Presence connections always carry a versionNumber; births and will-only connections never do.)
 */
function presenceCursor(facts: DeviceFacts, cursor: AlertCursor | undefined): AlertCursor | undefined {
  if (!facts.presence || !cursor || cursor.at.versionNumber !== undefined) return cursor;
  if (cursor.outageSince === undefined) return undefined;
  return { at: cursor.at, atTime: Number.NEGATIVE_INFINITY, through: 'end', outageSince: cursor.outageSince };
}

/** Phases 1 and 2: presence devices order their presence connections; the others derive theirs from births and wills. */
function connectionsAndEnds(
  facts: DeviceFacts,
  settings: PresenceSettings,
): { ordered: ConnectionFacts[]; ends: Ends } {
  if (!facts.presence) return lwtConnections(facts.connections, facts.wills, settings);
  const ordered = orderConnections(
    facts.connections.filter((c) => c.source === 'presence'),
    settings,
  );
  return { ordered, ends: presenceEnds(ordered, facts.wills, settings) };
}

/**
 * Derives the authoritative state of a device at `now`, the alerts owed since the cursor, and what to keep.
 * Pure: the same facts, cursor and time always give the same answer.
 */
export function evaluateDevice(
  facts: DeviceFacts,
  cursor: AlertCursor | undefined,
  now: number,
  settings: PresenceSettings,
): Evaluation {
  const { ordered, ends } = connectionsAndEnds(facts, settings);
  const fates = decideFates(ordered, ends, now, settings);
  const alertCursor = presenceCursor(facts, cursor);
  const walk = walkAlerts(facts.deviceId, ordered, fates, alertCursor, settings);
  const episodes = decideEpisodes(facts, ordered, fates, ends, alertCursor, now, settings);
  const rechecks = fates.flatMap((fate) =>
    fate.kind === 'pending' && fate.recheckAt !== undefined ? [fate.recheckAt] : [],
  );
  const endRecheckAt = rechecks.length > 0 ? Math.min(...rechecks) : undefined;
  const ongoing = activeEpisodes(episodes.cursor, now, settings.episodes);
  const recheckAt = earliest(endRecheckAt, ongoing.endsAt);
  const kept = compact(facts, ordered, ends, walk.cursor, now, settings);
  const uptime = continueUptime(cursor?.uptime, uptimeEdges(ordered, ends, walk.steps), {
    restart: cursor !== undefined && alertCursor !== cursor,
    outageAfterMs: settings.settleWindowMs,
  });
  return {
    view: withEpisodes(viewOf(facts, ordered, ends, endRecheckAt), ongoing.kinds),
    alerts: [...walk.alerts, ...episodes.alerts],
    cursor: walk.cursor && dropUndefined({ ...walk.cursor, episodes: episodes.cursor, uptime }),
    recheckAt,
    facts: dropUndefined({ ...kept.facts, marks: episodes.marks }),
    unexplainedWills: kept.unexplainedWills,
  };
}
