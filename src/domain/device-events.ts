/** The disconnect reasons AWS IoT Core documents for presence lifecycle events. */
export const DISCONNECT_REASONS = [
  'AUTH_ERROR',
  'CLIENT_INITIATED_DISCONNECT',
  'CLIENT_ERROR',
  'CONNECTION_LOST',
  'DUPLICATE_CLIENTID',
  'FORBIDDEN_ACCESS',
  'MQTT_KEEP_ALIVE_TIMEOUT',
  'SERVER_ERROR',
  'SERVER_INITIATED_DISCONNECT',
  'API_INITIATED_DISCONNECT',
  'THROTTLED',
  'WEBSOCKET_TTL_EXPIRATION',
  'CUSTOMAUTH_TTL_EXPIRATION',
  'UNKNOWN',
  'NONE',
] as const;

export type PresenceDisconnectReason = (typeof DISCONNECT_REASONS)[number];

/** The end of a connection of a device without presence events: its Last Will. */
export const LAST_WILL_REASON = 'LAST_WILL';
export type DisconnectReason = PresenceDisconnectReason | typeof LAST_WILL_REASON;

interface EventBase {
  deviceId: string;
  /** Identity of the event: duplicate deliveries of one event share it. */
  eventId: string;
  /** When the IoT rule received the message (epoch ms). */
  receivedAt: number;
}

/** Who holds a connection: the evidence that two devices share one clientId. */
interface ConnectionIdentity {
  principalIdentifier?: string;
  /** Only connected events carry it. */
  ipAddress?: string;
}

export interface ConnectedEvent extends EventBase, ConnectionIdentity {
  kind: 'connected';
  sessionIdentifier: string;
  versionNumber: number;
  /** AWS's approximate event time (epoch ms). */
  timestamp: number;
}

export interface DisconnectedEvent extends EventBase, ConnectionIdentity {
  kind: 'disconnected';
  sessionIdentifier: string;
  versionNumber: number;
  timestamp: number;
  disconnectReason: PresenceDisconnectReason;
  clientInitiatedDisconnect: boolean;
}

export interface ConnectFailedEvent extends EventBase {
  kind: 'connect_failed';
  timestamp: number;
}

export interface WillEvent extends EventBase {
  kind: 'will';
  payload: unknown;
}

export interface BirthEvent extends EventBase {
  kind: 'birth';
  payload: unknown;
}

export type DeviceEvent = ConnectedEvent | DisconnectedEvent | ConnectFailedEvent | WillEvent | BirthEvent;

export function isAbruptReason(reason: DisconnectReason): boolean {
  return reason !== 'CLIENT_INITIATED_DISCONNECT';
}
