import { type FleetAlert, isFleetAlert } from '../domain/fleet-incidents.js';
import type { Alert, AnyAlert } from '../domain/ports.js';

const iso = (epochMs: number) => new Date(epochMs).toISOString();

/** The JSON body subscribers receive. `incidentId`: the fleet incident a device alert belongs to. */
export function alertMessage(alert: AnyAlert, publishedAt: number, incidentId?: string) {
  if (isFleetAlert(alert)) return fleetAlertMessage(alert, publishedAt);
  return {
    ...deviceAlertMessage(alert, publishedAt),
    ...(incidentId ? { incidentId } : {}),
  };
}

/** A fleet incident: where to read it in the API, how many devices, why, and which ones (a sample). */
function fleetAlertMessage(alert: FleetAlert, publishedAt: number) {
  return {
    alertId: alert.alertId,
    type: alert.type,
    incidentId: alert.incidentId,
    path: `/incidents/${alert.incidentId}`,
    startedAt: iso(alert.startedAt),
    devices: alert.devices,
    reasons: alert.reasons,
    sampleDeviceIds: alert.sampleDeviceIds,
    since: iso(alert.since),
    publishedAt: iso(publishedAt),
    ...(alert.type === 'fleet-recovered'
      ? {
          durationSeconds: Math.round((alert.durationMs ?? 0) / 1000),
          devicesAffected: alert.devices,
          stillOffline: alert.stillOffline ?? 0,
        }
      : {}),
  };
}

function deviceAlertMessage(alert: Alert, publishedAt: number) {
  return {
    alertId: alert.alertId,
    type: alert.type,
    deviceId: alert.deviceId,
    sessionIdentifier: alert.sessionIdentifier,
    versionNumber: alert.versionNumber ?? null,
    disconnectReason: alert.disconnectReason ?? null,
    abrupt: alert.abrupt ?? null,
    lastWill: alert.lastWill ?? null,
    since: iso(alert.since),
    publishedAt: iso(publishedAt),
    ...(alert.type === 'online' ? { outageSeconds: Math.round((alert.outageMs ?? 0) / 1000) } : {}),
    ...episodeFields(alert),
  };
}

const seconds = (ms: number | undefined) => Math.round((ms ?? 0) / 1000);

/** What a clientid-conflict or flapping alert adds: what was counted, over which window, and the evidence. */
function episodeFields(alert: Alert) {
  if (alert.type === 'clientid-conflict') {
    return {
      takeovers: alert.count ?? 0,
      windowSeconds: seconds(alert.windowMs),
      principalIdentifiers: alert.principals ?? [],
      ipAddresses: alert.ipAddresses ?? [],
    };
  }
  if (alert.type === 'flapping') {
    return {
      ends: alert.count ?? 0,
      windowSeconds: seconds(alert.windowMs),
      medianGapSeconds: seconds(alert.medianGapMs),
      reasons: alert.reasons ?? {},
    };
  }
  return {};
}
