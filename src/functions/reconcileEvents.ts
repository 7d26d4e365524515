import { productionReconcilerWiring } from '../composition/reconciler.js';
import { buildReconcileEventsHandler } from '../handlers/reconcile-events.js';

export const handler = buildReconcileEventsHandler(productionReconcilerWiring());
