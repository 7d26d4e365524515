import { productionFleetCountWiring } from '../composition/fleet-counts.js';
import { buildCountFleetHandler } from '../handlers/count-fleet.js';

export const handler = buildCountFleetHandler(productionFleetCountWiring());
