import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from '../adapters/observability.js';
import type { Reconciler } from '../domain/reconciler.js';
import { lambdaShell } from './shared/lambda-shell.js';

const SWEEP_LIMIT = 500;

/**
 * Scheduled every minute: publishes the alerts that outboxes still hold after their publisher's lease (SNS refused
 * them, or the function died). Delayed checks need no safety net: each is queued before the state that needs it.
 */
export function buildSweepHandler(wiring: { reconciler: Pick<Reconciler, 'sweep'> }) {
  return lambdaShell(async () => {
    const result = await wiring.reconciler.sweep({ limit: SWEEP_LIMIT });
    metrics.addMetric('SweptOutboxes', MetricUnit.Count, result.devices);
    metrics.addMetric('RetriedAlerts', MetricUnit.Count, result.retried);
    if (result.devices > 0 || result.retried > 0) logger.info('sweep settled overdue work', result);
    return result;
  });
}
