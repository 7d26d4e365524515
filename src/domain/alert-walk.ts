/**
 * The alert walk, in two parts: the moves after the cursor (each later connection's start, each end), then where
 * the cursor stops (before the first end still undecided) and which alerts are owed: an online alert at a start
 * right after an outage, an offline alert at an outage's end. The walk goes on past an undecided end so that
 * newer connections still get their alerts; the cursor remembers those (`ahead`), so none is decided twice.
 */
import type { AlertCursor, AlertDecision } from './alerts.js';
import { connectionName, firstSeenAt, orderTime, refOf } from './connection.js';
import type { PresenceSettings } from './settings.js';
import type { Step } from './steps.js';

/** One move of the cursor: over a connection's start, or over its end. */
interface Move {
  step: Step;
  through: AlertCursor['through'];
}

export interface Walk {
  alerts: AlertDecision[];
  cursor?: AlertCursor;
  /** The moves the cursor made, in order: each is settled, and passed once. */
  passed: Move[];
}

/** The moves after the cursor: the start of each connection after it, and the end of the cursor's and theirs. */
function movesAfter(steps: readonly Step[], cursor: AlertCursor | undefined): Move[] {
  return steps.flatMap((step): Move[] => {
    if (step.position === 'before') return [];
    if (step.position === 'at') return cursor?.through === 'end' ? [] : [{ step, through: 'end' }];
    return [
      { step, through: 'start' },
      { step, through: 'end' },
    ];
  });
}

/** A start is always decided; an end once its fate is known. */
const isDecided = ({ step, through }: Move) =>
  through === 'start' || step.fate.kind === 'outage' || step.fate.kind === 'passed';

/**
 * When the outage open after `moves[index]` began (undefined: none is open). A start closes it; an outage's end
 * opens one; any other end leaves what its start left, and before the first move it is the cursor's.
 */
function outageAfter(moves: readonly Move[], index: number, since: number | undefined): number | undefined {
  const move = moves[index];
  if (!move) return since;
  if (move.through === 'start') return undefined;
  if (move.step.fate.kind === 'outage') return move.step.fate.end.seenAt;
  return outageAfter(moves, index - 1, since);
}

/** The alert a move owes, given the outage open before it. */
function alertAt(
  deviceId: string,
  { step, through }: Move,
  outageSince: number | undefined,
  settings: PresenceSettings,
): Omit<AlertDecision, 'alertId'> | undefined {
  const { connection, fate } = step;
  if (through === 'start') {
    if (outageSince === undefined) return undefined;
    const since = firstSeenAt(connection);
    const outageMs = Math.max(0, since - outageSince);
    return { type: 'online', deviceId, ...refOf(connection), since, earliestAt: since, outageMs };
  }
  if (fate.kind !== 'outage') return undefined;
  const { end } = fate;
  return {
    type: 'offline',
    deviceId,
    ...refOf(connection),
    disconnectReason: end.reason,
    abrupt: end.abrupt,
    lastWill: end.lastWill,
    lastWillAt: end.lastWillAt,
    since: end.seenAt,
    earliestAt: end.seenAt + settings.settleWindowMs,
  };
}

/** The cursor after the moves it made; it carries the ids decided beyond it, if any. */
function cursorAfter(
  cursor: AlertCursor | undefined,
  passed: readonly Move[],
  ahead: readonly string[],
): AlertCursor | undefined {
  const last = passed.at(-1);
  let moved = cursor;
  if (last) {
    const { connection } = last.step;
    moved = { at: refOf(connection), atTime: orderTime(connection), through: last.through };
    const outageSince = outageAfter(passed, passed.length - 1, cursor?.outageSince);
    if (outageSince !== undefined) moved.outageSince = outageSince;
  }
  if (!moved) return undefined;
  const { ahead: _, ...rest } = moved;
  return ahead.length > 0 ? { ...rest, ahead: [...ahead] } : rest;
}

/** Walks the steps after the cursor: where the cursor stops, and the alerts owed. */
export function walkAlerts(
  deviceId: string,
  steps: readonly Step[],
  cursor: AlertCursor | undefined,
  settings: PresenceSettings,
): Walk {
  const moves = movesAfter(steps, cursor);
  const held = moves.findIndex((move) => !isDecided(move));
  const passed = held === -1 ? moves : moves.slice(0, held);
  const owed = moves.flatMap((move, index) => {
    const alert = alertAt(deviceId, move, outageAfter(moves, index - 1, cursor?.outageSince), settings);
    if (!alert) return [];
    return [
      { alertId: `${deviceId}/${alert.type}/${connectionName(alert)}`, ...alert, beyond: index > held },
    ];
  });
  const ahead = held === -1 ? [] : owed.filter((alert) => alert.beyond).map((alert) => alert.alertId);
  const alreadyDecided = new Set(cursor?.ahead);
  const alerts = owed
    .filter((alert) => !alreadyDecided.has(alert.alertId))
    .map(({ beyond: _, ...alert }): AlertDecision => alert);
  return { alerts, cursor: cursorAfter(cursor, passed, ahead), passed };
}
