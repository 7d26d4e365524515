import type { Alert } from '../domain/ports.js';

/** The JSON body subscribers receive. */
export function alertMessage(alert: Alert, publishedAt: number) {
  return {
    alertId: alert.alertId,
    type: alert.type,
    deviceId: alert.deviceId,
    sessionIdentifier: alert.sessionIdentifier,
    versionNumber: alert.versionNumber ?? null,
    disconnectReason: alert.disconnectReason ?? null,
    abrupt: alert.abrupt ?? null,
    lastWill: alert.lastWill ?? null,
    since: new Date(alert.since).toISOString(),
    publishedAt: new Date(publishedAt).toISOString(),
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
