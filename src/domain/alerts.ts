import type { ConnectionRef } from './connection.js';
import type { DisconnectReason, PresenceDisconnectReason } from './device-events.js';
import type { EpisodeCursor, EpisodeKind } from './episodes.js';
import type { UptimeCursor } from './uptime.js';

type AlertType = 'offline' | 'online' | EpisodeKind;

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

/** Whether the device is back from the outage its offline alert of `since` told: the walk decided its return. */
export function returnedFrom(cursor: AlertCursor | undefined, since: number): boolean {
  return cursor !== undefined && cursor.outageSince !== since;
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
