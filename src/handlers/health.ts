import type { Config } from '../config.js';
import { serviceVersion } from '../version.js';
import { httpShell, json } from './shared/http.js';

/** The body of GET /health: what runs, and the settings that decide states and alerts. */
function healthBody(config: Config) {
  return {
    service: 'iot-presence',
    version: serviceVersion,
    settings: {
      SETTLE_WINDOW_SECONDS: config.SETTLE_WINDOW_SECONDS,
      ALERT_ON: config.ALERT_ON,
      WILL_MATCH_SECONDS: config.WILL_MATCH_SECONDS,
      VERSION_WINDOW_SECONDS: config.VERSION_WINDOW_SECONDS,
      FLEET_OUTAGE_MIN_DEVICES: config.FLEET_OUTAGE_MIN_DEVICES,
    },
  };
}

/** GET /health: the service version and the stack's settings, from the configuration alone (no AWS call). */
export function buildHealthHandler(wiring: { config: Config }) {
  return httpShell(async () => json(200, healthBody(wiring.config)));
}
