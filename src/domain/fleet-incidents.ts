/**
 * Fleet incidents: many devices going offline at once (a regional network or broker incident) make one incident,
 * announced once (`fleet-outage`) and closed once (`fleet-recovered`), instead of thousands of unrelated alerts.
 *   - It opens when at least `minDevices` offline alerts have their `since` inside one window.
 *   - A later offline alert joins while the incident still grows: its `since` is within a window of the latest
 *     member's. After a whole window without a new member it takes no more devices (it stays open until it
 *     recovers), so that an outage that never fully recovers does not absorb every later outage of the fleet.
 *   - It closes when at least `recoveredShare` of its devices are connected again. An offline alert decided late
 *     (a check or a stream batch that lagged) still joins it if its device dropped while it was open and growing.
 * The rules here are pure; `FleetTracker` applies them through the `FleetIncidentStore` port.
 */
import { fnv1a } from '../shared/fnv1a.js';
import type { DisconnectReason } from './device-events.js';

export interface FleetRule {
  minDevices: number;
  windowMs: number;
  recoveredShare: number;
}

/** The pseudo-device under which fleet alerts are recorded in the alert history. */
export const FLEET_KEY = '$fleet';
/** How many member deviceIds a fleet-outage alert names. */
const SAMPLE_DEVICES = 20;

/** An offline alert, as the fleet sees it. */
export interface OfflineNotice {
  alertId: string;
  deviceId: string;
  since: number;
  reason: DisconnectReason;
}

export interface Incident {
  incidentId: string;
  status: 'open' | 'closed';
  /** The earliest `since` of its members. */
  startedAt: number;
  /** The latest `since` of its members: it grows while new offline alerts come within a window of it. */
  lastSince: number;
  devices: number;
  recovered: number;
  reasons: Partial<Record<DisconnectReason, number>>;
  sampleDeviceIds: string[];
  closedAt?: number;
}

type FleetAlertType = 'fleet-outage' | 'fleet-recovered';

export interface FleetAlert {
  alertId: string;
  type: FleetAlertType;
  deviceId: typeof FLEET_KEY;
  incidentId: string;
  /** fleet-outage: when the incident started; fleet-recovered: when it closed. */
  since: number;
  startedAt: number;
  devices: number;
  reasons: Partial<Record<DisconnectReason, number>>;
  sampleDeviceIds: string[];
  /** fleet-recovered only. */
  durationMs?: number;
  stillOffline?: number;
  decidedAt: number;
}

export function isFleetAlert(alert: { type: string }): alert is FleetAlert {
  return alert.type === 'fleet-outage' || alert.type === 'fleet-recovered';
}

/** A closed incident's span, kept for the offline alerts that come after it closed. */
export interface ClosedSpan {
  incidentId: string;
  startedAt: number;
  lastSince: number;
  closedAt: number;
}

/** Whether a late offline alert belongs to a closed incident: its device dropped while the incident grew. */
export function grewWith(closed: ClosedSpan, since: number, rule: FleetRule): boolean {
  return since < closed.closedAt && growing({ ...closed, status: 'open' }, since, rule);
}

export function growing(
  incident: Pick<Incident, 'status' | 'startedAt' | 'lastSince'>,
  since: number,
  rule: FleetRule,
): boolean {
  return (
    incident.status === 'open' &&
    since <= incident.lastSince + rule.windowMs &&
    since >= incident.startedAt - rule.windowMs
  );
}

/**
 * The offline alerts that open an incident, if any: the first window (in `since` order) that holds at least
 * `minDevices`, with every alert chained to it within a window.
 */
export function incidentMembers(candidates: readonly OfflineNotice[], rule: FleetRule): OfflineNotice[] {
  const sorted = [...candidates].sort((a, b) => a.since - b.since || a.alertId.localeCompare(b.alertId));
  for (let end = 0; end < sorted.length; end += 1) {
    const last = (sorted[end] as OfflineNotice).since;
    const start = sorted.findIndex((c) => c.since >= last - rule.windowMs);
    if (end - start + 1 < rule.minDevices) continue;
    const members = sorted.slice(start, end + 1);
    for (const next of sorted.slice(end + 1)) {
      if (next.since - (members.at(-1) as OfflineNotice).since > rule.windowMs) break;
      members.push(next);
    }
    return members;
  }
  return [];
}

/** An incident's name, safe in a URL path: when it started, and a digest of its earliest member's alert. */
export function incidentIdOf(members: readonly OfflineNotice[]): string {
  const first = [...members].sort((a, b) => a.since - b.since || a.alertId.localeCompare(b.alertId))[0];
  if (!first) throw new Error('an incident needs members');
  const started = new Date(first.since).toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${started}-${fnv1a(first.alertId).toString(16).padStart(8, '0')}`;
}

function countReasons(members: readonly OfflineNotice[]): Partial<Record<DisconnectReason, number>> {
  const reasons: Partial<Record<DisconnectReason, number>> = {};
  for (const member of members) reasons[member.reason] = (reasons[member.reason] ?? 0) + 1;
  return reasons;
}

export function newIncident(members: readonly OfflineNotice[]): Incident {
  const sinces = members.map((m) => m.since);
  return {
    incidentId: incidentIdOf(members),
    status: 'open',
    startedAt: Math.min(...sinces),
    lastSince: Math.max(...sinces),
    devices: new Set(members.map((m) => m.deviceId)).size,
    recovered: 0,
    reasons: countReasons(members),
    sampleDeviceIds: [...new Set(members.map((m) => m.deviceId))].slice(0, SAMPLE_DEVICES),
  };
}

export function recoveredEnough(incident: Incident, rule: FleetRule): boolean {
  return incident.recovered >= rule.recoveredShare * incident.devices;
}

export function outageAlert(incident: Incident, decidedAt: number): FleetAlert {
  return {
    alertId: `${FLEET_KEY}/fleet-outage/${incident.incidentId}`,
    type: 'fleet-outage',
    deviceId: FLEET_KEY,
    incidentId: incident.incidentId,
    since: incident.startedAt,
    startedAt: incident.startedAt,
    devices: incident.devices,
    reasons: incident.reasons,
    sampleDeviceIds: incident.sampleDeviceIds,
    decidedAt,
  };
}

export function recoveredAlert(incident: Incident, closedAt: number, decidedAt: number): FleetAlert {
  return {
    alertId: `${FLEET_KEY}/fleet-recovered/${incident.incidentId}`,
    type: 'fleet-recovered',
    deviceId: FLEET_KEY,
    incidentId: incident.incidentId,
    since: closedAt,
    startedAt: incident.startedAt,
    devices: incident.devices,
    reasons: incident.reasons,
    sampleDeviceIds: incident.sampleDeviceIds,
    durationMs: Math.max(0, closedAt - incident.startedAt),
    stillOffline: incident.devices - incident.recovered,
    decidedAt,
  };
}
