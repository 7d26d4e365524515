import { productionApiWiring } from '../composition/api.js';
import { buildListAlertsHandler } from '../handlers/list-alerts.js';

export const handler = buildListAlertsHandler(productionApiWiring());
