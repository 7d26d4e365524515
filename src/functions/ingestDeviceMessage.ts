import { productionIngestWiring } from '../composition/ingest.js';
import { buildIngestDeviceMessageHandler } from '../handlers/ingest-device-message.js';

export const handler = buildIngestDeviceMessageHandler(productionIngestWiring());
