import { productionApiWiring } from '../composition/api.js';
import { buildListDevicesHandler } from '../handlers/list-devices.js';

export const handler = buildListDevicesHandler(productionApiWiring());
