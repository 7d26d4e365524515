import { productionRedriveWiring } from '../composition/redrive.js';
import { buildRedriveHandler } from '../handlers/redrive.js';

export const handler = buildRedriveHandler(productionRedriveWiring());
