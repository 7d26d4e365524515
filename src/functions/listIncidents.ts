import { productionApiWiring } from '../composition/api.js';
import { buildListIncidentsHandler } from '../handlers/incidents.js';

export const handler = buildListIncidentsHandler(productionApiWiring());
