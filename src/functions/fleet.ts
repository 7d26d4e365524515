import { productionApiWiring } from '../composition/api.js';
import { buildFleetHandler } from '../handlers/fleet.js';

export const handler = buildFleetHandler(productionApiWiring());
