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

export function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
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

/** When the service first saw any event of the connection. */
export function firstSeenAt(connection: ConnectionFacts): number {
  return earliest(connection.startSeenAt, connection.endSeenAt) ?? Number.POSITIVE_INFINITY;
}

/**
 * The ordering rule. Connections whose times are within the version window are ordered by versionNumber (AWS
 * counts connections per clientId, and only resets after about an hour offline); farther apart, by time, which
 * the timestamp's error cannot reverse. It compares two connections on their own, never through a third, so a
 * connection the record no longer keeps can still be placed against the ones it does.
 */
export function compareConnections(
  a: ConnectionFacts,
  b: ConnectionFacts,
  settings: PresenceSettings,
): number {
  const timeA = orderTime(a);
  const timeB = orderTime(b);
  const versionsApply =
    a.versionNumber !== undefined &&
    b.versionNumber !== undefined &&
    Math.abs(timeA - timeB) <= settings.versionWindowMs;
  if (versionsApply && a.versionNumber !== b.versionNumber) {
    return (a.versionNumber as number) - (b.versionNumber as number);
  }
  return (
    timeA - timeB ||
    (a.versionNumber ?? -1) - (b.versionNumber ?? -1) ||
    a.sessionIdentifier.localeCompare(b.sessionIdentifier)
  );
}

export function orderConnections(
  connections: readonly ConnectionFacts[],
  settings: PresenceSettings,
): ConnectionFacts[] {
  return [...connections].sort((a, b) => compareConnections(a, b, settings));
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
