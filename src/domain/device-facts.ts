import type { DeviceEvent, PresenceDisconnectReason } from './device-events.js';
import type { PresenceSettings } from './settings.js';

/** What is known about one connection. Merging facts is commutative and idempotent. */
export interface SessionFacts {
  sessionIdentifier: string;
  source: 'presence' | 'birth';
  versionNumber?: number;
  /** AWS's approximate start time (for births: the rule receive time). */
  connectedAt?: number;
  /** First rule receive time of the start. */
  connectedSeenAt?: number;
  disconnectedAt?: number;
  disconnectSeenAt?: number;
  disconnectReason?: PresenceDisconnectReason;
}

export interface WillFacts {
  eventId: string;
  receivedAt: number;
  payload: unknown;
}

/** Everything the reconciler keeps about a device, bounded in size. */
/** What is left of a session the record no longer keeps: enough to ignore its late events and explain its will. */
export interface PrunedSession {
  sessionIdentifier: string;
  disconnectSeenAt?: number;
  disconnectedAt?: number;
  abrupt: boolean;
}

export interface DeviceFacts {
  deviceId: string;
  sessions: SessionFacts[];
  wills: WillFacts[];
  /** Tombstones of pruned sessions, newest last (bounded). */
  pruned?: PrunedSession[];
  lastEventAt?: number;
  lastConnectedAt?: number;
  lastDisconnectedAt?: number;
  lastWillAt?: number;
}

/** Will payloads are kept in full in the event log; the device record keeps a bounded copy. */
export const MAX_KEPT_PAYLOAD_BYTES = 4096;

export function emptyFacts(deviceId: string): DeviceFacts {
  return { deviceId, sessions: [], wills: [] };
}

const min = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);
const max = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);

function boundedPayload(payload: unknown): unknown {
  const text = JSON.stringify(payload) ?? 'null';
  if (text.length <= MAX_KEPT_PAYLOAD_BYTES) return payload;
  return { truncated: true, bytes: text.length, preview: text.slice(0, 256) };
}

function mergeSession(sessions: SessionFacts[], update: SessionFacts): SessionFacts[] {
  const existing = sessions.find((s) => s.sessionIdentifier === update.sessionIdentifier);
  if (!existing) return [...sessions, update];
  const merged: SessionFacts = {
    sessionIdentifier: existing.sessionIdentifier,
    source: existing.source,
    versionNumber: existing.versionNumber ?? update.versionNumber,
    connectedAt: existing.connectedAt ?? update.connectedAt,
    connectedSeenAt: min(existing.connectedSeenAt, update.connectedSeenAt),
    disconnectedAt: existing.disconnectedAt ?? update.disconnectedAt,
    disconnectSeenAt: min(existing.disconnectSeenAt, update.disconnectSeenAt),
    disconnectReason: existing.disconnectReason ?? update.disconnectReason,
  };
  return sessions.map((s) => (s === existing ? dropUndefined(merged) : s));
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Folds one event into the facts. Applying the same event twice changes nothing. */
export function applyEvent(facts: DeviceFacts, event: DeviceEvent): DeviceFacts {
  // A late event of a pruned session must not bring it back half-known (for example open, without its end).
  if (
    'sessionIdentifier' in event &&
    facts.pruned?.some((p) => p.sessionIdentifier === event.sessionIdentifier)
  ) {
    return facts;
  }
  switch (event.kind) {
    case 'connect_failed':
      return facts;
    case 'connected':
      return {
        ...facts,
        sessions: mergeSession(facts.sessions, {
          sessionIdentifier: event.sessionIdentifier,
          source: 'presence',
          versionNumber: event.versionNumber,
          connectedAt: event.timestamp,
          connectedSeenAt: event.receivedAt,
        }),
        lastEventAt: max(facts.lastEventAt, event.receivedAt),
        lastConnectedAt: max(facts.lastConnectedAt, event.receivedAt),
      };
    case 'disconnected':
      return {
        ...facts,
        sessions: mergeSession(facts.sessions, {
          sessionIdentifier: event.sessionIdentifier,
          source: 'presence',
          versionNumber: event.versionNumber,
          disconnectedAt: event.timestamp,
          disconnectSeenAt: event.receivedAt,
          disconnectReason: event.disconnectReason,
        }),
        lastEventAt: max(facts.lastEventAt, event.receivedAt),
        lastDisconnectedAt: max(facts.lastDisconnectedAt, event.receivedAt),
      };
    case 'birth':
      return {
        ...facts,
        sessions: mergeSession(facts.sessions, {
          sessionIdentifier: `birth:${event.eventId}`,
          source: 'birth',
          connectedAt: event.receivedAt,
          connectedSeenAt: event.receivedAt,
        }),
        lastEventAt: max(facts.lastEventAt, event.receivedAt),
        lastConnectedAt: max(facts.lastConnectedAt, event.receivedAt),
      };
    case 'will':
      if (facts.wills.some((w) => w.eventId === event.eventId)) return facts;
      return {
        ...facts,
        wills: [
          ...facts.wills,
          { eventId: event.eventId, receivedAt: event.receivedAt, payload: boundedPayload(event.payload) },
        ],
        lastEventAt: max(facts.lastEventAt, event.receivedAt),
        lastWillAt: max(facts.lastWillAt, event.receivedAt),
      };
  }
}

export function applyEvents(facts: DeviceFacts, events: readonly DeviceEvent[]): DeviceFacts {
  return events.reduce(applyEvent, facts);
}

/** Approximate start of a session, for ordering. */
export function sessionTime(session: SessionFacts): number {
  return (
    session.connectedAt ??
    session.disconnectedAt ??
    session.connectedSeenAt ??
    session.disconnectSeenAt ??
    Number.NEGATIVE_INFINITY
  );
}

/** When the service first saw any event of the session. */
export function firstSeenAt(session: SessionFacts): number {
  return min(session.connectedSeenAt, session.disconnectSeenAt) ?? Number.POSITIVE_INFINITY;
}

const byTimeThenId = (a: SessionFacts, b: SessionFacts) =>
  sessionTime(a) - sessionTime(b) || a.sessionIdentifier.localeCompare(b.sessionIdentifier);

/**
 * Orders sessions oldest to newest. Sessions are grouped into epochs separated by gaps longer than the version
 * window; epochs are ordered by time and sessions inside an epoch by versionNumber. This is a total order that
 * depends only on the set of sessions, never on arrival order, and survives version resets (which need a long gap).
 */
export function orderSessions(sessions: readonly SessionFacts[], settings: PresenceSettings): SessionFacts[] {
  const byTime = [...sessions].sort(byTimeThenId);
  const epochOf = new Map<SessionFacts, number>();
  let epoch = 0;
  byTime.forEach((session, index) => {
    const previous = byTime[index - 1];
    if (previous && sessionTime(session) - sessionTime(previous) > settings.versionWindowMs) epoch += 1;
    epochOf.set(session, epoch);
  });
  return byTime.sort(
    (a, b) =>
      (epochOf.get(a) ?? 0) - (epochOf.get(b) ?? 0) ||
      (a.versionNumber ?? -1) - (b.versionNumber ?? -1) ||
      byTimeThenId(a, b),
  );
}

/** Keeps the newest sessions (and the one the alert cursor points at) and the wills that can still matter. */
export function pruneFacts(
  facts: DeviceFacts,
  settings: PresenceSettings,
  pinnedSessionIdentifier?: string,
): DeviceFacts {
  if (facts.sessions.length <= settings.maxSessions && facts.wills.length <= settings.maxWills) return facts;
  const ordered = orderSessions(facts.sessions, settings);
  const kept = ordered.filter(
    (s, index) =>
      index >= ordered.length - settings.maxSessions || s.sessionIdentifier === pinnedSessionIdentifier,
  );
  // A will older than every kept session belonged to a pruned one: keeping it would orphan it.
  const oldestKept = Math.min(...kept.map(firstSeenAt));
  const wills = [...facts.wills]
    .filter((w) => kept.length === ordered.length || w.receivedAt >= oldestKept - settings.willMatchMs)
    .sort((a, b) => a.receivedAt - b.receivedAt || a.eventId.localeCompare(b.eventId))
    .slice(-settings.maxWills);
  const tombstones: PrunedSession[] = ordered
    .filter((s) => !kept.includes(s))
    .map((s) => ({
      sessionIdentifier: s.sessionIdentifier,
      disconnectSeenAt: s.disconnectSeenAt,
      disconnectedAt: s.disconnectedAt,
      abrupt: s.disconnectReason !== undefined && s.disconnectReason !== 'CLIENT_INITIATED_DISCONNECT',
    }));
  const pruned = [...(facts.pruned ?? []), ...tombstones].slice(
    -MAX_TOMBSTONES_PER_SESSION * settings.maxSessions,
  );
  return { ...facts, sessions: kept, wills, pruned };
}

/** Tombstones kept, as a multiple of the sessions kept. */
const MAX_TOMBSTONES_PER_SESSION = 2;
