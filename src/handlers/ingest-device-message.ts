import { type Config, deviceMessageTopicsFrom } from '../config.js';
import { type IngestPorts, ingest } from './shared/ingest.js';
import { parseDeviceMessage } from './shared/iot-schemas.js';
import { lambdaShell } from './shared/lambda-shell.js';

/** Invoked by the will and birth rules: Last Will messages and the birth messages of presence-less fleets. */
export function buildIngestDeviceMessageHandler(wiring: IngestPorts & { config: Config }) {
  const topics = deviceMessageTopicsFrom(wiring.config);
  return lambdaShell((event: unknown) =>
    ingest(wiring, 'device-message', event, (input, now) => parseDeviceMessage(input, now, topics)),
  );
}
