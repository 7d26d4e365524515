import { type IngestPorts, ingest } from './shared/ingest.js';
import { parsePresence } from './shared/iot-schemas.js';
import { lambdaShell } from './shared/lambda-shell.js';

/** Invoked by the presence rule for every $aws/events/presence/+/+ message. */
export function buildIngestPresenceHandler(wiring: IngestPorts) {
  return lambdaShell((event: unknown) => ingest(wiring, 'presence', event, parsePresence));
}
