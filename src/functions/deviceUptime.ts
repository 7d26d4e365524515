import { productionApiWiring } from '../composition/api.js';
import { buildDeviceUptimeHandler } from '../handlers/device-uptime.js';

export const handler = buildDeviceUptimeHandler(productionApiWiring());
