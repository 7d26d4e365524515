import { productionApiPorts } from '../composition/api.js';
import type { AppPorts } from '../composition-root.js';
import { DeviceNotFoundError } from '../domain/errors.js';
import type { DeviceView } from '../domain/evaluate.js';
import { httpShell, isoTime, json, pathDeviceId } from './shared/http.js';

export function deviceStatusBody(view: DeviceView) {
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
  };
}

/** GET /devices/{deviceId}: one read of the device item, its state derived at the time of the request. */
export function buildGetDeviceHandler(ports: Pick<AppPorts, 'devices' | 'clock'>) {
  return httpShell(async (event) => {
    const deviceId = pathDeviceId(event);
    const view = await ports.devices.getView(deviceId, ports.clock.now());
    if (!view) throw new DeviceNotFoundError(deviceId);
    return json(200, deviceStatusBody(view));
  });
}

export const handler = buildGetDeviceHandler(productionApiPorts());
