import { FLEET_KEY } from './fleet-incidents.js';

/** The stores keep the fleet counters under device ids that start with this (`$counts#0` …). */
export const COUNTER_KEY_PREFIX = '$counts#';
/** The stores spread what fleet incidents write per device over ids that start with this (`$fleet#0` …). */
const FLEET_SHARD_PREFIX = `${FLEET_KEY}#`;

/** Ids the stores keep their own records under (fleet incidents, fleet counters): never a device's. */
export function isReservedDeviceId(deviceId: string): boolean {
  return (
    deviceId === FLEET_KEY ||
    deviceId.startsWith(FLEET_SHARD_PREFIX) ||
    deviceId.startsWith(COUNTER_KEY_PREFIX)
  );
}
