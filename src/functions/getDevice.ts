import { productionApiWiring } from '../composition/api.js';
import { buildGetDeviceHandler } from '../handlers/get-device.js';

export const handler = buildGetDeviceHandler(productionApiWiring());
