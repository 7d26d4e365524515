import type { DeviceEvent } from './device-events.js';
import type { EpisodeKind } from './episodes.js';
import type { DeviceView } from './evaluate.js';
import type { Incident } from './fleet-incidents.js';
import type { AnyAlert } from './ports.js';
import type { UptimeCursor, UptimeDay } from './uptime.js';

/**
 * Where the next page starts: a plain JSON object that only the store which returned it understands. Callers keep
 * it opaque (the HTTP API signs it into the cursor a client holds and gives it back unchanged).
 */
export type PageToken = Readonly<Record<string, unknown>>;

export interface PageRequest {
  limit: number;
  /** The `next` of the previous page; absent for the first page. */
  after?: PageToken | undefined;
}

export interface Page<T> {
  items: T[];
  /** Absent on the last page. */
  next?: PageToken | undefined;
}

/** What a listing of devices by status shows of each: the view's summary, never the whole view. */
export type DeviceSummary = Pick<
  DeviceView,
  'deviceId' | 'status' | 'since' | 'sessionIdentifier' | 'versionNumber' | 'disconnectReason' | 'settled'
>;

/**
 * The status a device is listed by: disconnected once its outage is confirmed (W passed with no newer connection,
 * for clean and abrupt ends alike), connected otherwise. A flap inside W never moves a device between the lists,
 * so the listing's index changes only on real outages and returns.
 */
export function settledStatus(
  view: Pick<DeviceView, 'status' | 'since'>,
  now: number,
  settleWindowMs: number,
): DeviceView['status'] {
  return view.status === 'disconnected' && now >= view.since + settleWindowMs ? 'disconnected' : 'connected';
}

/** When a device that is disconnected now moves to the disconnected list, if no newer connection comes first. */
export function listedDisconnectedAt(
  view: Pick<DeviceView, 'status' | 'since'> | undefined,
  settleWindowMs: number,
): number | undefined {
  return view?.status === 'disconnected' ? view.since + settleWindowMs : undefined;
}

export interface DeviceQueries {
  /** The device as it stands at `now`, derived from its record; undefined for a device never seen. */
  getView(deviceId: string, now: number): Promise<DeviceView | undefined>;
  /**
   * The devices whose settled status (settledStatus, as their last write listed them) is `status`, each with its live view at
   * `now`: a device that dropped inside W is listed as connected and shows as disconnected and unsettled.
   */
  listByStatus(status: DeviceView['status'], page: PageRequest, now: number): Promise<Page<DeviceSummary>>;
  /** The view and the settled timeline's cursor, from one read; undefined for a device never seen. */
  getUptimeStanding(deviceId: string, now: number): Promise<UptimeStanding | undefined>;
}

export interface UptimeStanding {
  view?: DeviceView;
  uptime?: UptimeCursor;
}

export interface UptimeDayQueries {
  /** The saved days from `from` to `to` (YYYY-MM-DD), and the newest one before `from`; oldest first. */
  savedDays(deviceId: string, from: string, to: string): Promise<UptimeDay[]>;
}

/** An event as the event log keeps it; `raw` is the input as received. */
export interface StoredEvent {
  event: DeviceEvent;
  raw?: string | undefined;
}

export interface EventQueries {
  listNewestFirst(deviceId: string, page: PageRequest): Promise<Page<StoredEvent>>;
}

/** A published alert as the alert history keeps it. */
export interface LedgerEntry {
  alert: AnyAlert;
  status: 'sent';
  publishedAt?: number | undefined;
}

export interface FleetAlertPage extends Page<LedgerEntry> {
  /** The oldest UTC day (YYYY-MM-DD) this page read, when it walked the fleet's history day by day. */
  searchedBackTo?: string | undefined;
}

export interface AlertQueries {
  /** One device's alerts, newest first. */
  listForDevice(deviceId: string, page: PageRequest): Promise<Page<LedgerEntry>>;
  /** The whole fleet's alerts, newest first, back to the alert retention before `now`. */
  listFleet(page: PageRequest, now: number): Promise<FleetAlertPage>;
}

/** The fleet at a glance, from counters kept with every change of a device's summary. */
export interface FleetCounts {
  connected: number;
  disconnected: number;
  /** Devices whose last end may still become an outage (inside W). */
  unsettled: number;
  disconnectedByReason: Record<string, number>;
  /** Devices in a clientid-conflict or flapping episode now (a device may be in both). */
  inEpisode: Record<EpisodeKind, number>;
}

export interface FleetQueries {
  counts(): Promise<FleetCounts>;
}

/** A device of a fleet incident: when it went offline, why, and whether it is back. */
export interface IncidentMember {
  deviceId: string;
  since: number;
  reason: string;
  recovered: boolean;
}

export interface IncidentQueries {
  /** Newest first. */
  listIncidents(status: Incident['status'], page: PageRequest): Promise<Page<Incident>>;
  getIncident(incidentId: string): Promise<Incident | undefined>;
  listIncidentDevices(incidentId: string, page: PageRequest): Promise<Page<IncidentMember>>;
  /** How many incidents are open now (one read). */
  openCount(): Promise<number>;
}
