import { productionReconcilerWiring } from '../composition/reconciler.js';
import { buildSettleCheckHandler } from '../handlers/settle-check.js';

export const handler = buildSettleCheckHandler(productionReconcilerWiring());
