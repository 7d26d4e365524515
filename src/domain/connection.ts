import type { DisconnectReason, PresenceDisconnectReason } from './device-events.js';
import type { PresenceSettings } from './settings.js';

/**
 * One MQTT connection, named by (sessionIdentifier, versionNumber): a persistent session that is resumed keeps
 * its sessionIdentifier, and each of its connections has its own versionNumber. Births (devices without presence
 * events) have no versionNumber; their sessionIdentifier is `birth:<eventId>`.
 */
export interface ConnectionRef {
  sessionIdentifier: string;
  versionNumber?: number;
}

/** What is known about one connection. Merging is commutative and idempotent: deliveries may come in any order. */
export interface ConnectionFacts extends ConnectionRef {
  source: 'presence' | 'birth';
  /** AWS's approximate time of the connect (for births: the rule receive time). */
  startedAt?: number;
  /** Earliest rule receive time of the connected event (or birth). */
  startSeenAt?: number;
  /** AWS's approximate time of the disconnect. */
  endedAt?: number;
  /** Earliest rule receive time of the disconnected event. */
  endSeenAt?: number;
  endReason?: PresenceDisconnectReason;
  /** Who held it; kept while it can still be evidence of a clientId conflict. */
  principalIdentifier?: string;
  ipAddress?: string;
}

export function sameConnection(a: ConnectionRef, b: ConnectionRef): boolean {
  return a.sessionIdentifier === b.sessionIdentifier && a.versionNumber === b.versionNumber;
}

/** A connection's name in alert ids and ledger keys: `sessionIdentifier/versionNumber` (births have no version). */
export function connectionName(connection: ConnectionRef): string {
  return connection.versionNumber === undefined
    ? connection.sessionIdentifier
    : `${connection.sessionIdentifier}/${connection.versionNumber}`;
}

export function refOf(connection: ConnectionRef): ConnectionRef {
  return connection.versionNumber === undefined
    ? { sessionIdentifier: connection.sessionIdentifier }
    : { sessionIdentifier: connection.sessionIdentifier, versionNumber: connection.versionNumber };
}

/** The earlier of two optional times. */
export const earliest = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);

/** The union of two partial views of the same connection: earliest times, first-known reason. */
export function mergeConnection(a: ConnectionFacts, b: ConnectionFacts): ConnectionFacts {
  return dropUndefined({
    sessionIdentifier: a.sessionIdentifier,
    versionNumber: a.versionNumber,
    source: a.source,
    startedAt: earliest(a.startedAt, b.startedAt),
    startSeenAt: earliest(a.startSeenAt, b.startSeenAt),
    endedAt: earliest(a.endedAt, b.endedAt),
    endSeenAt: earliest(a.endSeenAt, b.endSeenAt),
    endReason: a.endReason ?? b.endReason,
    principalIdentifier: a.principalIdentifier ?? b.principalIdentifier,
    ipAddress: a.ipAddress ?? b.ipAddress,
  });
}

/** A copy without the undefined fields (every evaluation makes a few: no intermediate arrays). */
export function dropUndefined<T extends object>(value: T): T {
  const kept: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const field = (value as Record<string, unknown>)[key];
    if (field !== undefined) kept[key] = field;
  }
  return kept as T;
}

/** Approximate time of a connection, for ordering: its start when known, else its end. */
export function orderTime(connection: ConnectionFacts): number {
  return (
    connection.startedAt ??
    connection.endedAt ??
    connection.startSeenAt ??
    connection.endSeenAt ??
    Number.NEGATIVE_INFINITY
  );
}

/** A birth connection with no birth: only its will tells of it, so its start is unknown. */
export function isWillOnly(connection: ConnectionFacts): boolean {
  return connection.source === 'birth' && connection.startSeenAt === undefined;
}

/** When the service first saw any event of the connection. */
export function firstSeenAt(connection: ConnectionFacts): number {
  return earliest(connection.startSeenAt, connection.endSeenAt) ?? Number.POSITIVE_INFINITY;
}

/** Ties of time, in a fixed order: the version, then the name. */
function byTime(a: ConnectionFacts, b: ConnectionFacts): number {
  return (
    orderTime(a) - orderTime(b) ||
    (a.versionNumber ?? -1) - (b.versionNumber ?? -1) ||
    a.sessionIdentifier.localeCompare(b.sessionIdentifier)
  );
}

function byVersion(a: ConnectionFacts, b: ConnectionFacts): number {
  return (a.versionNumber ?? -1) - (b.versionNumber ?? -1) || byTime(a, b);
}

/**
 * The ordering rule, a total order on any set of connections: the connections fall into epochs wherever their
 * times lie more than the version window apart; epochs follow each other in time, and within an epoch the
 * connections are ordered by versionNumber (then time, then name). AWS counts connections per clientId and only
 * restarts the count after about an hour offline, longer than the window can be (settings.ts), so a restart
 * always begins an epoch; the timestamps' error, far below the window, never splits one.
 */
export function orderConnections(
  connections: readonly ConnectionFacts[],
  settings: PresenceSettings,
): ConnectionFacts[] {
  const epochs: ConnectionFacts[][] = [];
  let previous = Number.NEGATIVE_INFINITY;
  for (const connection of [...connections].sort(byTime)) {
    const time = orderTime(connection);
    const epoch = epochs.at(-1);
    if (epoch && !(time - previous > settings.versionWindowMs)) epoch.push(connection);
    else epochs.push([connection]);
    previous = time;
  }
  return epochs.flatMap((epoch) => epoch.sort(byVersion));
}

/** How a connection ended, as the alert rules see it. */
export interface ConnectionEnd {
  /** Earliest rule receive time of the end (for a will-ended LWT connection: the will's). */
  seenAt: number;
  reason: DisconnectReason;
  abrupt: boolean;
  lastWill?: unknown;
  lastWillAt?: number;
}
