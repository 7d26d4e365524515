import { DeviceNotFoundError } from '../domain/errors.js';
import type { DeviceView } from '../domain/evaluate.js';
import type { Clock } from '../domain/ports.js';
import type { DeviceQueries } from '../domain/queries.js';
import { httpShell, isoTime, json, pathDeviceId } from './shared/http.js';

function deviceStatusBody(view: DeviceView) {
  return {
    deviceId: view.deviceId,
    status: view.status,
    settled: view.settled,
    since: isoTime(view.since),
    sessionIdentifier: view.sessionIdentifier,
    versionNumber: view.versionNumber ?? null,
    disconnectReason: view.disconnectReason ?? null,
    abrupt: view.abrupt ?? null,
    lastWill: view.lastWill ?? null,
    lastWillAt: isoTime(view.lastWillAt),
    lastEventAt: isoTime(view.lastEventAt),
    lastConnectedAt: isoTime(view.lastConnectedAt),
    lastDisconnectedAt: isoTime(view.lastDisconnectedAt),
    episodes: view.episodes ?? [],
  };
}

/** GET /devices/{deviceId}: one read of the device item, its state derived at the time of the request. */
export function buildGetDeviceHandler(wiring: { devices: Pick<DeviceQueries, 'getView'>; clock: Clock }) {
  return httpShell(async (event) => {
    const deviceId = pathDeviceId(event);
    const view = await wiring.devices.getView(deviceId, wiring.clock.now());
    if (!view) throw new DeviceNotFoundError(deviceId);
    return json(200, deviceStatusBody(view));
  });
}
