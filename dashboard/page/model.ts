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
  /** Open episodes: `clientid-conflict`, `flapping`. */
  episodes: string[];
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

/** The alert kinds the service publishes; a kind added later is shown by its name. */
export const ALERT_KINDS = [
  'offline',
  'online',
  'clientid-conflict',
  'flapping',
  'fleet-outage',
  'fleet-recovered',
] as const;

export interface AlertItem {
  alertId: string;
  type: string;
  /** The device of a device alert; null for a fleet alert. */
  deviceId: string | null;
  /** The fleet incident a fleet alert is about, or a device alert belongs to. */
  incidentId: string | null;
  sessionIdentifier: string | null;
  versionNumber: number | null;
  disconnectReason: string | null;
  since: string | null;
  publishedAt: string | null;
  outageSeconds: number | null;
  /** clientid-conflict: takeovers counted over windowSeconds, from these principals and addresses. */
  takeovers: number | null;
  windowSeconds: number | null;
  principalIdentifiers: string[];
  ipAddresses: string[];
  /** flapping: connections ended over windowSeconds, and the median time away. */
  ends: number | null;
  medianGapSeconds: number | null;
  /** flapping and fleet alerts: devices (or ends) per disconnect reason. */
  reasons: Record<string, number>;
  /** fleet alerts: how many devices, since when; fleet-recovered: after how long, and how many still offline. */
  devices: number | null;
  startedAt: string | null;
  durationSeconds: number | null;
  stillOffline: number | null;
  sampleDeviceIds: string[];
}

interface IncidentMember {
  deviceId: string;
  since: string | null;
  reason: string | null;
  recovered: boolean;
}

export interface IncidentItem {
  incidentId: string;
  status: 'open' | 'closed';
  startedAt: string | null;
  closedAt: string | null;
  durationSeconds: number | null;
  devices: number;
  recovered: number;
  stillOffline: number;
  reasons: Record<string, number>;
  sampleDeviceIds: string[];
  /** GET /incidents/{id} only: a page of its member devices. */
  members?: IncidentMember[];
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

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function counts(value: unknown): Record<string, number> {
  const result: Record<string, number> = {};
  if (!isObject(value)) return result;
  for (const [key, raw] of Object.entries(value)) {
    if (typeof raw === 'number' && Number.isFinite(raw)) result[key] = raw;
  }
  return result;
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
    episodes: strings(body.episodes),
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

const FLEET_ALERT_KINDS = new Set(['fleet-outage', 'fleet-recovered']);

export function decodeAlert(value: unknown): AlertItem | null {
  if (!isObject(value)) return null;
  const alertId = str(value.alertId);
  const type = str(value.type);
  const deviceId = str(value.deviceId);
  const incidentId = str(value.incidentId);
  if (alertId === null || type === null) return null;
  // A device alert names its device; a fleet alert its incident.
  if (FLEET_ALERT_KINDS.has(type) ? incidentId === null : deviceId === null) return null;
  return {
    alertId,
    type,
    deviceId,
    incidentId,
    sessionIdentifier: str(value.sessionIdentifier),
    versionNumber: num(value.versionNumber),
    disconnectReason: str(value.disconnectReason),
    since: isoOrNull(value.since),
    publishedAt: isoOrNull(value.publishedAt),
    outageSeconds: num(value.outageSeconds),
    takeovers: num(value.takeovers),
    windowSeconds: num(value.windowSeconds),
    principalIdentifiers: strings(value.principalIdentifiers),
    ipAddresses: strings(value.ipAddresses),
    ends: num(value.ends),
    medianGapSeconds: num(value.medianGapSeconds),
    reasons: counts(value.reasons),
    devices: num(value.devices),
    startedAt: isoOrNull(value.startedAt),
    durationSeconds: num(value.durationSeconds),
    stillOffline: num(value.stillOffline),
    sampleDeviceIds: strings(value.sampleDeviceIds),
  };
}

/** The kind of an alert as an operator says it. */
export function alertKindLabel(type: string): string {
  switch (type) {
    case 'clientid-conflict':
      return 'clientId conflict';
    case 'fleet-outage':
      return 'fleet outage';
    case 'fleet-recovered':
      return 'fleet recovered';
    default:
      return type;
  }
}

/** "30 CONNECTION_LOST, 2 MQTT_KEEP_ALIVE_TIMEOUT": most first. */
export function reasonsText(reasons: Record<string, number>): string {
  return Object.entries(reasons)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([reason, count]) => `${count} ${reason}`)
    .join(', ');
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** What an alert says, in a sentence of its own kind. `duration` formats milliseconds. */
export function alertWords(alert: AlertItem, duration: (ms: number) => string): string {
  const seconds = (value: number | null) => duration((value ?? 0) * 1000);
  switch (alert.type) {
    case 'offline':
      return `offline: ${alert.disconnectReason ?? 'no reason given'}`;
    case 'online':
      return alert.outageSeconds === null
        ? 'back online'
        : `back online after ${seconds(alert.outageSeconds)}`;
    case 'clientid-conflict': {
      const from = alert.ipAddresses.length > 0 ? ` from ${alert.ipAddresses.join(', ')}` : '';
      const principals =
        alert.principalIdentifiers.length > 1 ? `, ${alert.principalIdentifiers.length} principals` : '';
      return `clientId conflict: ${plural(alert.takeovers ?? 0, 'takeover')} in ${seconds(alert.windowSeconds)}${from}${principals}`;
    }
    case 'flapping':
      return `flapping: ${plural(alert.ends ?? 0, 'drop')} in ${seconds(alert.windowSeconds)}, median ${seconds(alert.medianGapSeconds)} away`;
    case 'fleet-outage': {
      const reasons = reasonsText(alert.reasons);
      return `fleet outage: ${plural(alert.devices ?? 0, 'device')} offline${reasons ? ` (${reasons})` : ''}`;
    }
    case 'fleet-recovered':
      return `fleet recovered after ${seconds(alert.durationSeconds)}: ${alert.stillOffline ?? 0} of ${plural(alert.devices ?? 0, 'device')} still offline`;
    default:
      return alert.type;
  }
}

function decodeMember(value: unknown): IncidentMember | null {
  if (!isObject(value)) return null;
  const deviceId = str(value.deviceId);
  if (deviceId === null) return null;
  return {
    deviceId,
    since: isoOrNull(value.since),
    reason: str(value.reason),
    recovered: value.recovered === true,
  };
}

export function decodeIncident(value: unknown): IncidentItem | null {
  if (!isObject(value)) return null;
  const incidentId = str(value.incidentId);
  const incidentStatus = value.status === 'open' || value.status === 'closed' ? value.status : null;
  if (incidentId === null || incidentStatus === null) return null;
  const incident: IncidentItem = {
    incidentId,
    status: incidentStatus,
    startedAt: isoOrNull(value.startedAt),
    closedAt: isoOrNull(value.closedAt),
    durationSeconds: num(value.durationSeconds),
    devices: num(value.devices) ?? 0,
    recovered: num(value.recovered) ?? 0,
    stillOffline: num(value.stillOffline) ?? 0,
    reasons: counts(value.reasons),
    sampleDeviceIds: strings(value.sampleDeviceIds),
  };
  if (isObject(value.deviceList)) incident.members = decodeAll(itemsOf(value.deviceList), decodeMember);
  return incident;
}

export function decodeIncidentPage(body: unknown): { items: IncidentItem[]; cursor: string | null } {
  return {
    items: decodeAll(itemsOf(body), decodeIncident),
    cursor: isObject(body) ? cursorOf(body) : null,
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
