import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from '../adapters/observability.js';
import { productionReconcilerPorts } from '../composition/reconciler.js';
import type { AppPorts } from '../composition-root.js';
import { lambdaShell } from './shared/lambda-shell.js';

/** Checks that fired late by more than this are taken over by the sweep. */
export const SWEEP_GRACE_MS = 15_000;
export const SWEEP_LIMIT = 500;

/** Scheduled every minute: the safety net for lost delayed checks and unpublished alerts. */
export function buildSweepHandler(ports: Pick<AppPorts, 'reconciler'>) {
  return lambdaShell(async () => {
    const result = await ports.reconciler.sweep({ graceMs: SWEEP_GRACE_MS, limit: SWEEP_LIMIT });
    metrics.addMetric('SweptDevices', MetricUnit.Count, result.devices);
    metrics.addMetric('RetriedAlerts', MetricUnit.Count, result.retried);
    if (result.devices > 0 || result.retried > 0) logger.info('sweep settled overdue work', result);
    return result;
  });
}

export const handler = buildSweepHandler(productionReconcilerPorts());
