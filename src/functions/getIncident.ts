import { productionApiWiring } from '../composition/api.js';
import { buildGetIncidentHandler } from '../handlers/incidents.js';

export const handler = buildGetIncidentHandler(productionApiWiring());
