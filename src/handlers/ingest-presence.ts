import { productionIngestPorts } from '../composition/ingest.js';
import type { AppPorts } from '../composition-root.js';
import { ingest } from './shared/ingest.js';
import { parsePresence } from './shared/iot-schemas.js';
import { lambdaShell } from './shared/lambda-shell.js';

/** Invoked by the presence rule for every $aws/events/presence/+/+ message. */
export function buildIngestPresenceHandler(ports: Pick<AppPorts, 'eventLog' | 'rejections' | 'clock'>) {
  return lambdaShell((event: unknown) => ingest(ports, 'presence', event, parsePresence));
}

export const handler = buildIngestPresenceHandler(productionIngestPorts());
