/**
 * The drawn history of one device: connected and disconnected spans over the last 24 h, rebuilt from the events
 * `GET /devices/{id}/events` returns. It follows the service's rule in its simple form: at any moment the device
 * is connected exactly when the newest session that had started by then has not ended. Duplicates collapse
 * (a session keeps its earliest start and earliest end), a takeover's late disconnect of an older session does not
 * end the newer one, and a session whose start is older than the loaded events counts as started before them.
 * Devices that only publish wills and births (no presence events) are drawn from those: a birth starts a
 * session, a will ends the newest open one.
 *
 * This is a picture, not the authority: the device's current state comes from `GET /devices/{id}`.
 * Pure: no DOM.
 */
import type { DeviceEventItem } from './model.js';

type SpanState = 'connected' | 'disconnected' | 'unknown';

export interface Span {
  start: number;
  end: number;
  state: SpanState;
  /** Why the device dropped, for disconnected spans that follow a known end. */
  reason: string | null;
  /** Connected spans: how many times another client took the id over (and the device stayed connected). */
  takeovers?: number;
}

/**
 * A session ended by a takeover (DUPLICATE_CLIENTID) and the session that took over are one connected stretch when
 * they meet within this: the id never stopped being connected, however the two events' timestamps fall.
 */
const TAKEOVER_GAP_MS = 2_000;

export const DAY_MS = 86_400_000;

interface Session {
  start: number;
  end: number | null;
  reason: string | null;
  /** Ended by a takeover: the end was moved to where the next session starts. */
  takenOverAt?: number;
}

const BEFORE_EVERYTHING = Number.NEGATIVE_INFINITY;

function sessionsOf(events: readonly DeviceEventItem[]): Session[] {
  const presence = events.filter(
    (event) => (event.kind === 'connected' || event.kind === 'disconnected') && event.at !== null,
  );
  if (presence.length > 0) {
    const byId = new Map<string, { start: number | null; end: number | null; reason: string | null }>();
    for (const event of presence) {
      const id = event.sessionIdentifier ?? `unnamed-${event.versionNumber ?? 'x'}`;
      const session = byId.get(id) ?? { start: null, end: null, reason: null };
      const at = event.at as number;
      if (event.kind === 'connected') {
        session.start = session.start === null ? at : Math.min(session.start, at);
      } else if (session.end === null || at < session.end) {
        session.end = at;
        session.reason = event.disconnectReason;
      }
      byId.set(id, session);
    }
    return joinTakeovers(
      [...byId.values()].map((session) => ({
        start: session.start ?? BEFORE_EVERYTHING,
        end: session.end,
        reason: session.reason,
      })),
    );
  }
  // Wills and births only (a fleet without presence events).
  const sessions: Session[] = [];
  const lwt = events
    .filter((event) => (event.kind === 'birth' || event.kind === 'will') && event.at !== null)
    .sort((a, b) => (a.at as number) - (b.at as number));
  for (const event of lwt) {
    const at = event.at as number;
    if (event.kind === 'birth') {
      sessions.push({ start: at, end: null, reason: null });
      continue;
    }
    const open = sessions.findLast((session) => session.end === null);
    if (open) {
      open.end = at;
      open.reason = 'LAST_WILL';
    } else {
      sessions.push({ start: BEFORE_EVERYTHING, end: at, reason: 'LAST_WILL' });
    }
  }
  return sessions;
}

/** A session a takeover ended lasts until the next one starts, when that is within TAKEOVER_GAP_MS of its end. */
function joinTakeovers(sessions: Session[]): Session[] {
  const starts = sessions.map((session) => session.start).sort((a, b) => a - b);
  for (const session of sessions) {
    if (session.reason !== 'DUPLICATE_CLIENTID' || session.end === null) continue;
    const end = session.end;
    const next = starts.find((start) => start > session.start && Math.abs(start - end) <= TAKEOVER_GAP_MS);
    if (next === undefined) continue;
    session.takenOverAt = end;
    session.end = Math.max(end, next);
  }
  return sessions;
}

/** The state at `t` (right after any change at `t`), and the reason of a disconnection. */
function stateAt(sessions: readonly Session[], t: number): { state: SpanState; reason: string | null } {
  let newest: Session | undefined;
  for (const session of sessions) {
    if (session.start > t) continue;
    if (!newest || session.start > newest.start) newest = session;
  }
  if (!newest) return { state: 'unknown', reason: null };
  if (newest.end === null || newest.end > t) return { state: 'connected', reason: null };
  return { state: 'disconnected', reason: newest.reason };
}

/**
 * Spans covering [now - windowMs, now], oldest first, adjacent equal spans merged. `historyComplete` says
 * whether the events reach back past the window's start; if not, the time before the oldest loaded event is
 * 'unknown' unless an ended session shows the device was connected then.
 */
export function buildTimeline(
  events: readonly DeviceEventItem[],
  now: number,
  options: { windowMs?: number; historyComplete?: boolean } = {},
): Span[] {
  const windowStart = now - (options.windowMs ?? DAY_MS);
  const sessions = sessionsOf(events);
  const oldestEvent = Math.min(...events.map((event) => event.at ?? Number.POSITIVE_INFINITY));
  const knownFrom = options.historyComplete ? BEFORE_EVERYTHING : oldestEvent;

  const boundaries = new Set<number>([windowStart]);
  for (const session of sessions) {
    for (const at of [session.start, session.end]) {
      if (at !== null && at > windowStart && at < now) boundaries.add(at);
    }
  }
  if (knownFrom > windowStart && knownFrom < now) boundaries.add(knownFrom);
  const points = [...boundaries].sort((a, b) => a - b);

  const spans: Span[] = [];
  points.forEach((start, index) => {
    const end = points[index + 1] ?? now;
    if (end <= start) return;
    let { state, reason } = stateAt(sessions, start);
    // Before the oldest loaded event nothing is known, except that a session ending later was open.
    if (start < knownFrom && state !== 'connected') {
      state = 'unknown';
      reason = null;
    }
    const previous = spans[spans.length - 1];
    if (previous && previous.state === state && previous.reason === reason && previous.end === start) {
      previous.end = end;
    } else {
      spans.push({ start, end, state, reason });
    }
  });
  for (const span of spans) {
    if (span.state !== 'connected') continue;
    const takeovers = sessions.filter(
      (session) =>
        session.takenOverAt !== undefined &&
        session.takenOverAt >= span.start &&
        session.takenOverAt < span.end,
    ).length;
    if (takeovers > 0) span.takeovers = takeovers;
  }
  return spans;
}

/**
 * The window a device's timeline opens on: the shortest of `choices` that holds everything the events tell (their
 * oldest, with a tenth to spare), else the longest. A device seen for five minutes opens on ten, not on a day of grey.
 */
export function fittingWindow(
  events: readonly DeviceEventItem[],
  now: number,
  choices: readonly number[],
  historyComplete: boolean,
): number {
  const sorted = [...choices].sort((a, b) => a - b);
  const longest = sorted[sorted.length - 1] ?? DAY_MS;
  // Older events exist than the ones loaded: the longest window is the one that shows them.
  if (!historyComplete || events.length === 0) return longest;
  const oldest = Math.min(...events.map((event) => event.at ?? now));
  const needed = (now - oldest) * 1.1;
  return sorted.find((choice) => choice >= needed) ?? longest;
}

/** How long the device was connected in the window, as a share of the time whose state is known. */
export function connectedShare(spans: readonly Span[]): number | null {
  let known = 0;
  let connected = 0;
  for (const span of spans) {
    if (span.state === 'unknown') continue;
    known += span.end - span.start;
    if (span.state === 'connected') connected += span.end - span.start;
  }
  return known === 0 ? null : connected / known;
}
