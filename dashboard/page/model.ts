/**
 * What the page reads from the public HTTP API, decoded defensively: an answer that does not have the expected
 * shape is dropped field by field (or item by item), never trusted. Fields the API may add later (such as
 * `versionNumber` on list items) are optional here and shown only when present.
 *
 * Pure: no DOM, no fetch. Also imported by the dashboard's unit tests.
 */

export type DeviceStatus = 'connected' | 'disconnected';

export interface DeviceListItem {
  deviceId: string;
  status: DeviceStatus;
  /** ISO time of the last status change, or null when unknown. */
  since: string | null;
  sessionIdentifier: string | null;
  disconnectReason: string | null;
  settled: boolean;
  versionNumber?: number | null;
  /** Present only if the listing carries it; else the page looks it up for disconnected rows. */
  lastWill?: unknown;
}

export interface DevicePage {
  items: DeviceListItem[];
  cursor: string | null;
}

export interface DeviceDetail extends DeviceListItem {
  abrupt: boolean | null;
  lastWill: unknown;
  lastWillAt: string | null;
  lastEventAt: string | null;
  lastConnectedAt: string | null;
  lastDisconnectedAt: string | null;
}

export interface DeviceEventItem {
  kind: string;
  eventId: string | null;
  /** When the event happened (AWS's timestamp for presence events, else when it was received), epoch ms. */
  at: number | null;
  receivedAt: number | null;
  sessionIdentifier: string | null;
  versionNumber: number | null;
  disconnectReason: string | null;
}

export interface EventPage {
  items: DeviceEventItem[];
  cursor: string | null;
}

export interface AlertItem {
  alertId: string;
  type: 'offline' | 'online';
  deviceId: string;
  sessionIdentifier: string | null;
  versionNumber: number | null;
  disconnectReason: string | null;
  since: string | null;
  publishedAt: string | null;
  outageSeconds: number | null;
}

export interface AlertPage {
  items: AlertItem[];
  cursor: string | null;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Epoch ms from a number (epoch ms) or an ISO string. */
function epochMs(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? null : parsed;
  }
  return null;
}

function isoOrNull(value: unknown): string | null {
  const at = epochMs(value);
  return at === null ? null : new Date(at).toISOString();
}

function status(value: unknown): DeviceStatus | null {
  return value === 'connected' || value === 'disconnected' ? value : null;
}

function cursorOf(body: Json): string | null {
  return str(body.cursor);
}

function itemsOf(body: unknown): unknown[] {
  return isObject(body) && Array.isArray(body.items) ? body.items : [];
}

function decodeDeviceListItem(value: unknown): DeviceListItem | null {
  if (!isObject(value)) return null;
  const deviceId = str(value.deviceId);
  const deviceStatus = status(value.status);
  if (deviceId === null || deviceStatus === null) return null;
  const item: DeviceListItem = {
    deviceId,
    status: deviceStatus,
    since: isoOrNull(value.since),
    sessionIdentifier: str(value.sessionIdentifier),
    disconnectReason: str(value.disconnectReason),
    settled: value.settled === true,
  };
  if ('versionNumber' in value) item.versionNumber = num(value.versionNumber);
  if ('lastWill' in value) item.lastWill = value.lastWill ?? null;
  return item;
}

function decodeAll<T>(values: unknown[], decode: (value: unknown) => T | null): T[] {
  const decoded: T[] = [];
  for (const value of values) {
    const item = decode(value);
    if (item !== null) decoded.push(item);
  }
  return decoded;
}

export function decodeDevicePage(body: unknown): DevicePage {
  return {
    items: decodeAll(itemsOf(body), decodeDeviceListItem),
    cursor: isObject(body) ? cursorOf(body) : null,
  };
}

export function decodeDeviceDetail(body: unknown): DeviceDetail | null {
  const item = decodeDeviceListItem(body);
  if (item === null || !isObject(body)) return null;
  return {
    ...item,
    versionNumber: num(body.versionNumber),
    abrupt: typeof body.abrupt === 'boolean' ? body.abrupt : null,
    lastWill: body.lastWill ?? null,
    lastWillAt: isoOrNull(body.lastWillAt),
    lastEventAt: isoOrNull(body.lastEventAt),
    lastConnectedAt: isoOrNull(body.lastConnectedAt),
    lastDisconnectedAt: isoOrNull(body.lastDisconnectedAt),
  };
}

function decodeEvent(value: unknown): DeviceEventItem | null {
  if (!isObject(value)) return null;
  const kind = str(value.kind);
  if (kind === null) return null;
  const receivedAt = epochMs(value.receivedAt);
  return {
    kind,
    eventId: str(value.eventId),
    at: epochMs(value.timestamp) ?? receivedAt,
    receivedAt,
    sessionIdentifier: str(value.sessionIdentifier),
    versionNumber: num(value.versionNumber),
    disconnectReason: str(value.disconnectReason),
  };
}

export function decodeEventPage(body: unknown): EventPage {
  return {
    items: decodeAll(itemsOf(body), decodeEvent),
    cursor: isObject(body) ? cursorOf(body) : null,
  };
}

function decodeAlert(value: unknown): AlertItem | null {
  if (!isObject(value)) return null;
  const alertId = str(value.alertId);
  const deviceId = str(value.deviceId);
  const type = value.type === 'offline' || value.type === 'online' ? value.type : null;
  if (alertId === null || deviceId === null || type === null) return null;
  return {
    alertId,
    type,
    deviceId,
    sessionIdentifier: str(value.sessionIdentifier),
    versionNumber: num(value.versionNumber),
    disconnectReason: str(value.disconnectReason),
    since: isoOrNull(value.since),
    publishedAt: isoOrNull(value.publishedAt),
    outageSeconds: num(value.outageSeconds),
  };
}

export function decodeAlertPage(body: unknown): AlertPage {
  return {
    items: decodeAll(itemsOf(body), decodeAlert),
    cursor: isObject(body) ? cursorOf(body) : null,
  };
}

/** The error text of an API answer (`{"error": "..."}`), if it has one. */
export function errorMessageOf(body: unknown): string | null {
  return isObject(body) ? str(body.error) : null;
}
