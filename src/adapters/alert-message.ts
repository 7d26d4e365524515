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
  };
}
