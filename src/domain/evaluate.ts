/**
 * From a device's facts, its alert cursor and the time, derives its state, the alerts owed, when to look again,
 * and the smaller facts worth keeping. docs/how-state-is-derived.md tells the same story in prose:
 *   1. the cursor the walk starts from       (startingCursor: a device that just got presence starts afresh)
 *   2. one step per connection, in order     (stepsOf, steps.ts: its end, the will shown, its position, its fate)
 *   3. the alert walk over the steps         (walkAlerts, alert-walk.ts: where the cursor stops, the alerts owed)
 *   4. episodes, and the uptime timeline     (decideEpisodes, episode-alerts.ts; uptimeEdges, uptime.ts)
 *   5. what to keep, and the view            (compact, viewOf)
 */
import { walkAlerts } from './alert-walk.js';
import type { AlertCursor, AlertDecision } from './alerts.js';
import { type ConnectionFacts, dropUndefined, earliest, firstSeenAt } from './connection.js';
import type { DisconnectReason } from './device-events.js';
import type { DeviceFacts, WillFacts } from './device-facts.js';
import { decideEpisodes } from './episode-alerts.js';
import { activeEpisodes, type EpisodeKind } from './episodes.js';
import type { PresenceSettings } from './settings.js';
import { type Evidence, evidenceOf, placeAgainst, type Step, type Steps, stepsOf } from './steps.js';
import { continueUptime, uptimeEdges } from './uptime.js';

export type { AlertCursor, AlertDecision } from './alerts.js';

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

/**
 * The cursor the walk starts from. A device becomes a presence device with its first presence event: what births
 * and wills decided before is forgotten, but an outage they opened stays open, so the first presence connection
 * owes its online alert. (Presence connections always carry a versionNumber; births and will-only ones never do.)
 */
export function startingCursor(
  facts: DeviceFacts,
  cursor: AlertCursor | undefined,
): { cursor?: AlertCursor; restarted: boolean } {
  if (!facts.presence || !cursor || cursor.at.versionNumber !== undefined)
    return { cursor, restarted: false };
  if (cursor.outageSince === undefined) return { restarted: true };
  const afresh: AlertCursor = {
    at: cursor.at,
    atTime: Number.NEGATIVE_INFINITY,
    through: 'end',
    outageSince: cursor.outageSince,
  };
  return { cursor: afresh, restarted: true };
}

/** The wills a device without presence keeps: from the cursor's connection on, explained or still young. */
function lwtWills(
  facts: DeviceFacts,
  explained: ReadonlySet<string>,
  cursor: AlertCursor | undefined,
  now: number,
  settings: PresenceSettings,
): WillFacts[] {
  const from = cursor?.atTime ?? Number.NEGATIVE_INFINITY;
  return facts.wills.filter(
    (w) => w.receivedAt >= from && (explained.has(w.eventId) || w.receivedAt + settings.willMatchMs > now),
  );
}

/**
 * The wills a presence device keeps: the will shown on a kept end, and unattached wills young enough to meet their
 * end (the newest few); the others explain nothing and are dropped.
 */
function presenceWills(
  facts: DeviceFacts,
  kept: readonly Step[],
  explained: ReadonlySet<string>,
  now: number,
  settings: PresenceSettings,
): { wills: WillFacts[]; unexplainedWills: WillFacts[] } {
  // Most records keep no will: nothing to sort or match.
  if (facts.wills.length === 0) return { wills: [], unexplainedWills: [] };
  const keptShown = new Set(kept.flatMap((step) => (step.shownWill ? [step.shownWill] : [])));
  const unattached = facts.wills
    .filter((w) => !explained.has(w.eventId))
    .sort((a, b) => b.receivedAt - a.receivedAt || a.eventId.localeCompare(b.eventId));
  const waiting = unattached
    .filter((w) => w.receivedAt + 2 * settings.willMatchMs > now)
    .slice(0, MAX_UNATTACHED_WILLS);
  const wills = facts.wills.filter((w) => keptShown.has(w.eventId) || waiting.includes(w));
  return { wills, unexplainedWills: unattached.filter((w) => !waiting.includes(w)) };
}

/** Keeps the connections from the cursor on (the walk never looks before it) and the wills that can still matter. */
function compact(
  facts: DeviceFacts,
  evidence: Evidence['kind'],
  { steps, explained }: Steps,
  cursor: AlertCursor | undefined,
  now: number,
  settings: PresenceSettings,
): { facts: DeviceFacts; unexplainedWills: WillFacts[] } {
  const place = placeAgainst(
    steps.map((step) => step.connection),
    cursor,
    settings,
  );
  const kept = steps.filter((step) => place(step.connection) !== 'before');
  const keptConnections = new Set(kept.map((step) => step.connection));
  const connections = facts.connections.filter((c) => keptConnections.has(c)).map(withoutStaleIdentity);
  switch (evidence) {
    case 'presence': {
      const { wills, unexplainedWills } = presenceWills(facts, kept, explained, now, settings);
      return { facts: { ...facts, connections, wills }, unexplainedWills };
    }
    case 'lwt-only': {
      const wills = lwtWills(facts, explained, cursor, now, settings);
      return { facts: { ...facts, connections, wills }, unexplainedWills: [] };
    }
  }
}

/** Who held a connection only matters while it may be, or was, taken over. */
function withoutStaleIdentity(connection: ConnectionFacts): ConnectionFacts {
  if (connection.endReason === undefined || connection.endReason === 'DUPLICATE_CLIENTID') return connection;
  // Kept as it is when it holds neither (the record's own, from an earlier evaluation): no copy to write or compare.
  if (!Object.hasOwn(connection, 'principalIdentifier') && !Object.hasOwn(connection, 'ipAddress'))
    return connection;
  const { principalIdentifier: _p, ipAddress: _i, ...rest } = connection;
  return rest;
}

function viewOf(
  facts: DeviceFacts,
  newest: Step | undefined,
  recheckAt: number | undefined,
  episodes: EpisodeKind[],
): DeviceView | undefined {
  if (!newest) return undefined;
  const { connection, end } = newest;
  const view: DeviceView = {
    deviceId: facts.deviceId,
    status: end ? 'disconnected' : 'connected',
    settled: recheckAt === undefined,
    since: end ? end.seenAt : (connection.startSeenAt ?? firstSeenAt(connection)),
    sessionIdentifier: connection.sessionIdentifier,
    versionNumber: connection.versionNumber,
    disconnectReason: end?.reason,
    abrupt: end?.abrupt,
    lastWill: end?.lastWill,
    lastWillAt: end?.lastWillAt,
    lastEventAt: facts.lastEventAt,
    lastConnectedAt: facts.lastConnectedAt,
    lastDisconnectedAt: facts.lastDisconnectedAt,
  };
  return episodes.length > 0 ? { ...view, episodes } : view;
}

/** The earliest time a pending end may become an outage. */
function endRecheckAt(steps: readonly Step[]): number | undefined {
  let first: number | undefined;
  for (const { fate } of steps)
    if (fate.kind === 'pending' && fate.recheckAt !== undefined) first = earliest(first, fate.recheckAt);
  return first;
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
  const start = startingCursor(facts, cursor);
  const evidence = evidenceOf(facts);
  const derived = stepsOf(evidence, start.cursor, now, settings);
  const walk = walkAlerts(facts.deviceId, derived.steps, start.cursor, settings);
  const episodes = decideEpisodes(facts, derived.steps, start.cursor, now, settings);
  const ongoing = activeEpisodes(episodes.cursor, now, settings.episodes);
  const endsSettleAt = endRecheckAt(derived.steps);
  const kept = compact(facts, evidence.kind, derived, walk.cursor, now, settings);
  const uptime = continueUptime(cursor?.uptime, uptimeEdges(walk.passed), {
    restart: start.restarted,
    outageAfterMs: settings.settleWindowMs,
  });
  return {
    view: viewOf(facts, derived.steps.at(-1), endsSettleAt, ongoing.kinds),
    alerts: [...walk.alerts, ...episodes.alerts],
    cursor: walk.cursor && dropUndefined({ ...walk.cursor, episodes: episodes.cursor, uptime }),
    recheckAt: earliest(endsSettleAt, ongoing.endsAt),
    facts: dropUndefined({ ...kept.facts, marks: episodes.marks }),
    unexplainedWills: kept.unexplainedWills,
  };
}
