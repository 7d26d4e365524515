import { type DisconnectReason, isAbruptReason, LAST_WILL_REASON } from './device-events.js';
import {
  type DeviceFacts,
  firstSeenAt,
  orderSessions,
  type SessionFacts,
  type WillFacts,
} from './device-facts.js';
import type { PresenceSettings } from './settings.js';

export type AlertType = 'offline' | 'online';

/**
 * Where the alert walk resumes. offline: an outage is open after this session; online: this session may still go
 * offline; settled: this session's fate is final with no outage open. Alerts are only ever decided after it.
 */
export interface AlertCursor {
  type: AlertType | 'settled';
  sessionIdentifier: string;
  /** For offline: when the outage began; for online: when the recovery was first seen. */
  since: number;
}

export interface AlertDecision {
  type: AlertType;
  deviceId: string;
  sessionIdentifier: string;
  versionNumber?: number;
  disconnectReason?: DisconnectReason;
  abrupt?: boolean;
  lastWill?: unknown;
  /** offline: when the end was first seen; online: when the new session was first seen. */
  since: number;
  /** The earliest time the contract allows this alert. */
  dueAt: number;
  /** online only: how long the device was offline. */
  outageMs?: number;
}

export interface SessionEnd {
  endSeenAt: number;
  reason: DisconnectReason;
  abrupt: boolean;
  lastWill?: unknown;
  lastWillAt?: number;
}

export interface DeviceView {
  deviceId: string;
  status: 'connected' | 'disconnected';
  settled: boolean;
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
}

export interface Evaluation {
  /** Undefined while the device has no session at all (for example only a pending will). */
  view?: DeviceView;
  alerts: AlertDecision[];
  cursor?: AlertCursor;
  /** When something pending must be looked at again. */
  dueAt?: number;
}

interface Timeline {
  sessions: SessionFacts[];
  ends: Map<string, SessionEnd>;
  pendingUntil: number[];
}

/** A known end of a session, kept or pruned, that a will could accompany. */
interface AbruptEnd {
  sessionIdentifier: string;
  disconnectSeenAt?: number;
  disconnectedAt?: number;
}

function willDistance(will: WillFacts, end: AbruptEnd): number {
  const bySeen =
    end.disconnectSeenAt === undefined ? Infinity : Math.abs(will.receivedAt - end.disconnectSeenAt);
  const byTimestamp =
    end.disconnectedAt === undefined ? Infinity : Math.abs(will.receivedAt - end.disconnectedAt);
  return Math.min(bySeen, byTimestamp);
}

/** The abrupt presence disconnect a will accompanies, if any is close enough (candidates in session order). */
function matchWill(
  will: WillFacts,
  candidates: AbruptEnd[],
  settings: PresenceSettings,
): AbruptEnd | undefined {
  let best: AbruptEnd | undefined;
  let bestDistance = Infinity;
  for (const end of candidates) {
    const distance = willDistance(will, end);
    // `<=` so that on a tie the newer session (later in order) wins.
    if (distance <= settings.willMatchMs && distance <= bestDistance) {
      best = end;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * The session a will no presence event explained belongs to: the one current when it arrived, except right after
 * a takeover. A will that comes within the takeover window of the newest session's start, while an older session
 * is still open, is the old connection's will (AWS publishes it as the new connection replaces the old one).
 */
function willTarget(
  will: WillFacts,
  ordered: SessionFacts[],
  ends: Map<string, SessionEnd>,
  settings: PresenceSettings,
): SessionFacts | undefined {
  const started = ordered.filter((s) => (s.connectedSeenAt ?? Number.NEGATIVE_INFINITY) <= will.receivedAt);
  const current = started[started.length - 1];
  if (!current) return undefined;
  const justStarted =
    (current.connectedSeenAt ?? Number.NEGATIVE_INFINITY) >= will.receivedAt - settings.takeoverWindowMs;
  if (justStarted) {
    const olderOpen = started
      .slice(0, -1)
      .reverse()
      .find((s) => !ends.has(s.sessionIdentifier));
    if (olderOpen) return olderOpen;
  }
  return current;
}

/** Orders the sessions and works out how each one ended, given what is known at `now`. */
function buildTimeline(facts: DeviceFacts, now: number, settings: PresenceSettings): Timeline {
  const hasPresence = facts.sessions.some((s) => s.source === 'presence');
  // Births only stand in for presence events on devices that have none.
  let sessions = orderSessions(
    facts.sessions.filter((s) => s.source === (hasPresence ? 'presence' : 'birth')),
    settings,
  );
  const ends = new Map<string, SessionEnd>();
  for (const session of sessions) {
    if (session.disconnectReason && session.disconnectSeenAt !== undefined) {
      ends.set(session.sessionIdentifier, {
        endSeenAt: session.disconnectSeenAt,
        reason: session.disconnectReason,
        abrupt: isAbruptReason(session.disconnectReason),
      });
    }
  }

  const pendingUntil: number[] = [];
  const unmatched: WillFacts[] = [];
  const wills = [...facts.wills].sort(
    (a, b) => a.receivedAt - b.receivedAt || a.eventId.localeCompare(b.eventId),
  );
  // Pruned sessions come first: they are older than every kept one.
  const abruptEnds: AbruptEnd[] = [
    ...(facts.pruned ?? []).filter((p) => p.abrupt),
    ...sessions.filter((s) => s.disconnectReason !== undefined && isAbruptReason(s.disconnectReason)),
  ];
  for (const will of wills) {
    const match = matchWill(will, abruptEnds, settings);
    const end = match && ends.get(match.sessionIdentifier);
    if (match && !end) continue; // the will of a pruned session: explained, and it changes nothing
    if (end) {
      if (end.lastWillAt === undefined || will.receivedAt < end.lastWillAt) {
        end.lastWill = will.payload;
        end.lastWillAt = will.receivedAt;
      }
    } else if (will.receivedAt + settings.settleWindowMs <= now) {
      unmatched.push(will);
    } else {
      pendingUntil.push(will.receivedAt + settings.settleWindowMs);
    }
  }

  // A will no presence disconnect explained within W ends the session current when it arrived.
  const synthetic: SessionFacts[] = [];
  for (const will of unmatched) {
    const target = willTarget(will, sessions, ends, settings);
    const willEnd: SessionEnd = {
      endSeenAt: will.receivedAt,
      reason: LAST_WILL_REASON,
      abrupt: true,
      lastWill: will.payload,
      lastWillAt: will.receivedAt,
    };
    if (!target) {
      const session: SessionFacts = {
        sessionIdentifier: `will:${will.eventId}`,
        source: hasPresence ? 'presence' : 'birth',
        connectedSeenAt: will.receivedAt,
        disconnectSeenAt: will.receivedAt,
        connectedAt: will.receivedAt,
      };
      synthetic.push(session);
      ends.set(session.sessionIdentifier, willEnd);
    } else if (!ends.has(target.sessionIdentifier)) {
      ends.set(target.sessionIdentifier, willEnd);
    }
  }
  if (synthetic.length > 0) sessions = orderSessions([...sessions, ...synthetic], settings);
  return { sessions, ends, pendingUntil };
}

/** Where the alert walk resumes: at the session of an online cursor, after the session of any other. */
function walkStart(sessions: SessionFacts[], cursor: AlertCursor | undefined): number {
  if (!cursor) return 0;
  const resumeAt = cursor.type === 'online';
  const index = sessions.findIndex((s) => s.sessionIdentifier === cursor.sessionIdentifier);
  if (index >= 0) return resumeAt ? index : index + 1;
  // The cursor's session is no longer kept (a will-derived session whose will was pruned): resume by time.
  const resume = sessions.findIndex((s) =>
    resumeAt ? firstSeenAt(s) >= cursor.since : firstSeenAt(s) > cursor.since,
  );
  return resume >= 0 ? resume : sessions.length;
}

function alertsOn(end: SessionEnd, settings: PresenceSettings): boolean {
  return settings.alertOn === 'all' || end.abrupt;
}

/**
 * Derives the authoritative state of a device at `now` and the alerts owed since the cursor.
 * Pure: the same facts, cursor and time always give the same answer.
 */
export function evaluateDevice(
  facts: DeviceFacts,
  cursor: AlertCursor | undefined,
  now: number,
  settings: PresenceSettings,
): Evaluation {
  const { sessions, ends, pendingUntil } = buildTimeline(facts, now, settings);
  const alerts: AlertDecision[] = [];
  let nextCursor = cursor;

  const start = walkStart(sessions, cursor);
  let openOutage = cursor?.type === 'offline' ? cursor : undefined;
  let heldBack = false;

  for (let index = start; index < sessions.length; index += 1) {
    const session = sessions[index] as SessionFacts;
    const next = sessions[index + 1];
    if (openOutage) {
      const since = firstSeenAt(session);
      alerts.push({
        type: 'online',
        deviceId: facts.deviceId,
        sessionIdentifier: session.sessionIdentifier,
        versionNumber: session.versionNumber,
        since,
        dueAt: since,
        outageMs: Math.max(0, since - openOutage.since),
      });
      nextCursor = { type: 'online', sessionIdentifier: session.sessionIdentifier, since };
      openOutage = undefined;
      heldBack = false;
    }
    const end = ends.get(session.sessionIdentifier);
    if (end && alertsOn(end, settings)) {
      const deadline = end.endSeenAt + settings.settleWindowMs;
      const outlasted = next ? firstSeenAt(next) > deadline : deadline <= now;
      if (!next && !outlasted) pendingUntil.push(deadline);
      if (outlasted) {
        alerts.push({
          type: 'offline',
          deviceId: facts.deviceId,
          sessionIdentifier: session.sessionIdentifier,
          versionNumber: session.versionNumber,
          disconnectReason: end.reason,
          abrupt: end.abrupt,
          lastWill: end.lastWill,
          since: end.endSeenAt,
          dueAt: deadline,
        });
        openOutage = { type: 'offline', sessionIdentifier: session.sessionIdentifier, since: end.endSeenAt };
        nextCursor = openOutage;
        heldBack = false;
        continue;
      }
    }
    // A session with a successor is decided for good once its end is known (or W after the successor, when a late
    // end could no longer make an outage of it). The cursor moves past a run of such sessions so that pruning can
    // never make the walk decide them again; an undecided one holds it back, yet the walk goes on, so that newer
    // sessions still get their alerts and checks.
    const decided =
      next !== undefined && (end !== undefined || firstSeenAt(next) + settings.settleWindowMs <= now);
    if (decided && !heldBack) {
      nextCursor = {
        type: 'settled',
        sessionIdentifier: session.sessionIdentifier,
        since: firstSeenAt(session),
      };
    } else if (next && !decided) {
      heldBack = true;
    }
  }

  const dueAt = pendingUntil.length > 0 ? Math.min(...pendingUntil) : undefined;
  const newest = sessions[sessions.length - 1];
  if (!newest) return { alerts, cursor: nextCursor, dueAt };
  const end = ends.get(newest.sessionIdentifier);
  const view: DeviceView = {
    deviceId: facts.deviceId,
    status: end ? 'disconnected' : 'connected',
    settled: dueAt === undefined,
    since: end ? end.endSeenAt : (newest.connectedSeenAt ?? firstSeenAt(newest)),
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
  return { view, alerts, cursor: nextCursor, dueAt };
}
