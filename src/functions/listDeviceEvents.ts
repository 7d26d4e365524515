import { productionApiWiring } from '../composition/api.js';
import { buildListDeviceEventsHandler } from '../handlers/list-device-events.js';

export const handler = buildListDeviceEventsHandler(productionApiWiring());
