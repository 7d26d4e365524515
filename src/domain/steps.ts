/**
 * A device's connections as steps: each connection once, in order, with how it ended, the will its end shows, the
 * connection after it, where it stands against the alert cursor, and its fate. Everything after reads steps.
 */
import type { AlertCursor } from './alerts.js';
import {
  type ConnectionEnd,
  type ConnectionFacts,
  firstSeenAt,
  orderConnections,
  orderTime,
  sameConnection,
} from './connection.js';
import { isAbruptReason, LAST_WILL_REASON } from './device-events.js';
import type { DeviceFacts, WillFacts } from './device-facts.js';
import type { PresenceSettings } from './settings.js';

/**
 * open: the newest connection, not ended. pending: may still become an outage (or, for an older connection with
 * no known end, its end may still arrive). passed: ended or superseded without an outage. outage: ended, and no
 * newer connection was seen within W of the end being first seen.
 */
type Fate =
  | { kind: 'open' }
  | { kind: 'pending'; recheckAt?: number }
  | { kind: 'passed' }
  | { kind: 'outage'; end: ConnectionEnd };

/** before: the cursor passed it (it is back through a late delivery); at: the cursor's own; after: ahead of it. */
export type Position = 'before' | 'at' | 'after';

export interface Step {
  connection: ConnectionFacts;
  /** How it ended, when that is known. */
  end?: ConnectionEnd;
  /** The eventId of the will its end shows (presence devices). */
  shownWill?: string;
  /** The connection after it in the order. */
  next?: ConnectionFacts;
  position: Position;
  fate: Fate;
}

export interface Steps {
  steps: Step[];
  /** Wills that explain an end (presence) or end a connection (LWT only), whether or not an end shows them. */
  explained: ReadonlySet<string>;
}

/** A connection and its end: what the two kinds of device derive from their facts, in order. */
interface Ended {
  connection: ConnectionFacts;
  end?: ConnectionEnd;
  shownWill?: string;
}

/**
 * What a device's connections are read from. Presence: its presence events alone decide, wills are evidence.
 * LWT only (no presence event yet): births start connections and wills end them.
 */
export type Evidence =
  | { kind: 'presence'; connections: readonly ConnectionFacts[]; wills: readonly WillFacts[] }
  | { kind: 'lwt-only'; births: readonly ConnectionFacts[]; wills: readonly WillFacts[] };

export function evidenceOf(facts: DeviceFacts): Evidence {
  return facts.presence
    ? { kind: 'presence', connections: presenceConnections(facts.connections), wills: facts.wills }
    : { kind: 'lwt-only', births: facts.connections, wills: facts.wills };
}

/** The presence connections; the facts' own array when it holds nothing else (as it mostly does). */
function presenceConnections(connections: readonly ConnectionFacts[]): readonly ConnectionFacts[] {
  return connections.every((c) => c.source === 'presence')
    ? connections
    : connections.filter((c) => c.source === 'presence');
}

function willDistance(will: WillFacts, connection: ConnectionFacts): number {
  const bySeen =
    connection.endSeenAt === undefined ? Infinity : Math.abs(will.receivedAt - connection.endSeenAt);
  const byTimestamp =
    connection.endedAt === undefined ? Infinity : Math.abs(will.receivedAt - connection.endedAt);
  return Math.min(bySeen, byTimestamp);
}

/** The abrupt end nearest to a will within willMatchMs; on a tie, the newer connection's. */
function endOfWill(
  will: WillFacts,
  ordered: readonly ConnectionFacts[],
  settings: PresenceSettings,
): { connection: ConnectionFacts; distance: number } | undefined {
  let best: { connection: ConnectionFacts; distance: number } | undefined;
  for (const connection of ordered) {
    if (connection.endReason === undefined || !isAbruptReason(connection.endReason)) continue;
    const distance = willDistance(will, connection);
    if (distance <= settings.willMatchMs && distance <= (best?.distance ?? Infinity))
      best = { connection, distance };
  }
  return best;
}

/**
 * Presence devices: ends come from disconnected events only. Each will is attached to the abrupt end nearest in
 * time within willMatchMs (on a tie, the newer connection); each end shows the nearest of its wills (on a tie,
 * the earlier).
 */
export function presenceEnds(
  ordered: readonly ConnectionFacts[],
  wills: readonly WillFacts[],
  settings: PresenceSettings,
): { ended: Ended[]; explained: Set<string> } {
  const shown = new Map<ConnectionFacts, { will: WillFacts; distance: number }>();
  const explained = new Set<string>();
  for (const will of wills) {
    const best = endOfWill(will, ordered, settings);
    if (!best) continue;
    explained.add(will.eventId);
    const current = shown.get(best.connection);
    const closer =
      !current ||
      best.distance < current.distance ||
      (best.distance === current.distance && will.receivedAt < current.will.receivedAt);
    if (closer) shown.set(best.connection, { will, distance: best.distance });
  }
  const ended = ordered.map((connection): Ended => {
    if (connection.endReason === undefined || connection.endSeenAt === undefined) return { connection };
    const will = shown.get(connection)?.will;
    const end: ConnectionEnd = {
      seenAt: connection.endSeenAt,
      reason: connection.endReason,
      abrupt: isAbruptReason(connection.endReason),
      lastWill: will?.payload,
      lastWillAt: will?.receivedAt,
    };
    return will ? { connection, end, shownWill: will.eventId } : { connection, end };
  });
  return { ended, explained };
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
export function lwtEnds(
  births: readonly ConnectionFacts[],
  wills: readonly WillFacts[],
  settings: PresenceSettings,
): { ended: Ended[]; explained: Set<string> } {
  let ordered = orderConnections(births, settings);
  const endOf = new Map<ConnectionFacts, ConnectionEnd>();
  const explained = new Set<string>();
  const byTime = [...wills].sort((a, b) => a.receivedAt - b.receivedAt || a.eventId.localeCompare(b.eventId));
  for (const will of byTime) {
    const end: ConnectionEnd = {
      seenAt: will.receivedAt,
      reason: LAST_WILL_REASON,
      abrupt: true,
      lastWill: will.payload,
      lastWillAt: will.receivedAt,
    };
    let target = ordered.filter((c) => orderTime(c) <= will.receivedAt).at(-1);
    if (!target) {
      target = willOnlyConnection(will);
      ordered = orderConnections([...ordered, target], settings);
    }
    if (endOf.has(target)) continue;
    endOf.set(target, end);
    explained.add(will.eventId);
  }
  return { ended: ordered.map((connection) => ({ connection, end: endOf.get(connection) })), explained };
}

function alertsOn(end: ConnectionEnd, settings: PresenceSettings): boolean {
  return settings.alertOn === 'all' || end.abrupt;
}

function fateOf(
  { end }: Ended,
  next: ConnectionFacts | undefined,
  now: number,
  settings: PresenceSettings,
): Fate {
  if (!end) {
    if (!next) return { kind: 'open' };
    // Its end may still come, delivered late; once W has passed since the newer connection, it cannot matter.
    return firstSeenAt(next) + settings.settleWindowMs <= now ? { kind: 'passed' } : { kind: 'pending' };
  }
  if (!alertsOn(end, settings)) return { kind: 'passed' };
  const deadline = end.seenAt + settings.settleWindowMs;
  if (next) return firstSeenAt(next) > deadline ? { kind: 'outage', end } : { kind: 'passed' };
  return deadline <= now ? { kind: 'outage', end } : { kind: 'pending', recheckAt: deadline };
}

/** Where the cursor's connection would stand among the others, whether or not the record still keeps it. */
function cursorConnection(cursor: AlertCursor): ConnectionFacts {
  return { ...cursor.at, source: 'presence', startedAt: cursor.atTime };
}

/**
 * Where a connection stands against the cursor, read from the order of the connections with the cursor's among
 * them (the record forgets the cursor's connection once the cursor has moved past it).
 */
export function placeAgainst(
  ordered: readonly ConnectionFacts[],
  cursor: AlertCursor | undefined,
  settings: PresenceSettings,
): (connection: ConnectionFacts) => Position {
  if (!cursor) return () => 'after';
  const kept = ordered.some((connection) => sameConnection(connection, cursor.at));
  const withCursor = kept ? ordered : orderConnections([...ordered, cursorConnection(cursor)], settings);
  const at = withCursor.findIndex((connection) => sameConnection(connection, cursor.at));
  return (connection) => {
    const index = withCursor.indexOf(connection);
    return index < at ? 'before' : index === at ? 'at' : 'after';
  };
}

/** The steps of a device at `now`, placed against the cursor its alert walk starts from. */
export function stepsOf(
  evidence: Evidence,
  cursor: AlertCursor | undefined,
  now: number,
  settings: PresenceSettings,
): Steps {
  let derived: { ended: Ended[]; explained: Set<string> };
  switch (evidence.kind) {
    case 'presence':
      derived = presenceEnds(orderConnections(evidence.connections, settings), evidence.wills, settings);
      break;
    case 'lwt-only':
      derived = lwtEnds(evidence.births, evidence.wills, settings);
      break;
  }
  const { ended, explained } = derived;
  const place = placeAgainst(
    ended.map((e) => e.connection),
    cursor,
    settings,
  );
  const steps = ended.map((e, index): Step => {
    const next = ended[index + 1]?.connection;
    const fate = fateOf(e, next, now, settings);
    // Built field by field, not spread: every evaluation makes a step per connection.
    const step: Step = { connection: e.connection, position: place(e.connection), fate };
    if ('end' in e) step.end = e.end;
    if ('shownWill' in e) step.shownWill = e.shownWill;
    if (next) step.next = next;
    return step;
  });
  return { steps, explained };
}
