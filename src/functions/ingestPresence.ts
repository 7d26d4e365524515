import { productionIngestWiring } from '../composition/ingest.js';
import { buildIngestPresenceHandler } from '../handlers/ingest-presence.js';

export const handler = buildIngestPresenceHandler(productionIngestWiring());
