import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { logger, metrics } from '../adapters/observability.js';
import type { Clock, RejectionStore } from '../domain/ports.js';
import type { Reconciler } from '../domain/reconciler.js';
import { forEachWithLimit } from '../shared/concurrency.js';
import { parseJsonOr } from '../shared/json.js';
import * as z from '../shared/zod.js';
import { retryableFailures } from './shared/device-batches.js';
import { deviceIdSchema } from './shared/input-guards.js';
import { lambdaShell } from './shared/lambda-shell.js';
import { rejectInput } from './shared/reject.js';

const checkMessageSchema = z.object({ deviceId: deviceIdSchema, dueAt: z.number() });

/** Triggered by the delay queue when a device's settle window ends. */
export function buildSettleCheckHandler(wiring: {
  reconciler: Pick<Reconciler, 'reconcile'>;
  rejections: RejectionStore;
  clock: Clock;
}) {
  return lambdaShell(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const devices = new Map<string, string[]>();
    for (const record of event.Records) {
      const parsed = checkMessageSchema.safeParse(parseJsonOr(record.body, undefined));
      if (!parsed.success) {
        await rejectInput(
          wiring.rejections,
          'settle-check',
          'not a check message',
          record.body,
          wiring.clock.now(),
        );
        continue;
      }
      devices.set(parsed.data.deviceId, [...(devices.get(parsed.data.deviceId) ?? []), record.messageId]);
    }
    metrics.addMetric('SettleChecks', MetricUnit.Count, devices.size);
    const attempted = await forEachWithLimit([...devices.keys()], 8, async (deviceId) => {
      await wiring.reconciler.reconcile(deviceId, [], true);
    });
    const failures = retryableFailures(attempted);
    for (const failure of failures)
      logger.error('settle check failed', { deviceId: failure.key, error: failure.error as Error });
    return {
      batchItemFailures: failures.flatMap((f) =>
        (devices.get(f.key) ?? []).map((id) => ({ itemIdentifier: id })),
      ),
    };
  });
}
