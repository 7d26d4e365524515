import { productionReconcilerWiring } from '../composition/reconciler.js';
import { buildSweepHandler } from '../handlers/sweep.js';

export const handler = buildSweepHandler(productionReconcilerWiring());
