import { productionHealthWiring } from '../composition/health.js';
import { buildHealthHandler } from '../handlers/health.js';

export const handler = buildHealthHandler(productionHealthWiring());
