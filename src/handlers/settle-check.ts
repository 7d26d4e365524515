import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseCheckMessage } from '../adapters/check-message.js';
import { logger, metrics } from '../adapters/observability.js';
import type { Clock, RejectionStore } from '../domain/ports.js';
import type { Reconciler } from '../domain/reconciler.js';
import { forEachWithLimit } from '../shared/concurrency.js';
import { retryableFailures } from './shared/device-batches.js';
import { deviceIdSchema } from './shared/input-guards.js';
import { lambdaShell } from './shared/lambda-shell.js';
import { rejectInput } from './shared/reject.js';

/** Triggered by the delay queue when a device's settle window ends. */
export function buildSettleCheckHandler(wiring: {
  reconciler: Pick<Reconciler, 'reconcile'>;
  rejections: RejectionStore;
  clock: Clock;
}) {
  return lambdaShell(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const devices = new Map<string, { messageIds: string[]; arrivals: Array<number | undefined> }>();
    for (const record of event.Records) {
      // The one check message (adapters/check-message.ts), and a deviceId a device could have.
      const check = parseCheckMessage(record.body);
      if (!check || !deviceIdSchema.safeParse(check.deviceId).success) {
        await rejectInput(
          wiring.rejections,
          'settle-check',
          'not a check message',
          record.body,
          wiring.clock.now(),
        );
        continue;
      }
      const consumed = devices.get(check.deviceId) ?? { messageIds: [], arrivals: [] };
      consumed.messageIds.push(record.messageId);
      consumed.arrivals.push(check.arrivesAt);
      devices.set(check.deviceId, consumed);
    }
    metrics.addMetric('SettleChecks', MetricUnit.Count, devices.size);
    const attempted = await forEachWithLimit([...devices.keys()], 8, async (deviceId) => {
      await wiring.reconciler.reconcile(deviceId, [], { arrivals: devices.get(deviceId)?.arrivals ?? [] });
    });
    const failures = retryableFailures(attempted);
    for (const failure of failures)
      logger.error('settle check failed', { deviceId: failure.key, error: failure.error as Error });
    return {
      batchItemFailures: failures.flatMap((f) =>
        (devices.get(f.key)?.messageIds ?? []).map((id) => ({ itemIdentifier: id })),
      ),
    };
  });
}
