import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { logger, metrics } from '../adapters/observability.js';
import type { Reconciler } from '../domain/reconciler.js';
import { forEachWithLimit } from '../shared/concurrency.js';
import { retryableFailures } from './shared/device-batches.js';
import { lambdaShell } from './shared/lambda-shell.js';
import { groupByDevice } from './shared/stream-batches.js';

const bySequence = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

/** Triggered by the event log's stream: folds newly stored events into each device's state. */
export function buildReconcileEventsHandler(wiring: { reconciler: Pick<Reconciler, 'reconcile'> }) {
  return lambdaShell(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const batches = groupByDevice(event);
    metrics.addMetric('ReconciledDevices', MetricUnit.Count, batches.size);
    const attempted = await forEachWithLimit([...batches.keys()], 8, async (deviceId) => {
      const outcome = await wiring.reconciler.reconcile(deviceId, batches.get(deviceId)?.events ?? []);
      if (outcome.alerts.length > 0)
        metrics.addMetric('AlertsDecided', MetricUnit.Count, outcome.alerts.length);
    });
    const failures = retryableFailures(attempted);
    for (const failure of failures) {
      logger.error('reconcile failed', { deviceId: failure.key, error: failure.error as Error });
    }
    // The stream resumes from the earliest failed record; reconciling is idempotent, so replays are harmless.
    const earliest = failures
      .map((failure) => batches.get(failure.key)?.firstSequenceNumber ?? '0')
      .sort(bySequence)[0];
    return { batchItemFailures: earliest ? [{ itemIdentifier: earliest }] : [] };
  });
}
