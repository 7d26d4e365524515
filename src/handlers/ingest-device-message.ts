import { productionIngestPorts } from '../composition/ingest.js';
import type { AppPorts } from '../composition-root.js';
import { ingest } from './shared/ingest.js';
import { parseDeviceMessage } from './shared/iot-schemas.js';
import { lambdaShell } from './shared/lambda-shell.js';

/** Invoked by the will and birth rules: Last Will messages and the birth messages of presence-less fleets. */
export function buildIngestDeviceMessageHandler(
  ports: Pick<AppPorts, 'eventLog' | 'rejections' | 'clock' | 'config'>,
) {
  const topics = {
    willTopicFilter: ports.config.WILL_TOPIC_FILTER,
    birthTopicFilter: ports.config.BIRTH_TOPIC_FILTER,
  };
  return lambdaShell((event: unknown) =>
    ingest(ports, 'device-message', event, (input, now) => parseDeviceMessage(input, now, topics)),
  );
}

export const handler = buildIngestDeviceMessageHandler(productionIngestPorts());
