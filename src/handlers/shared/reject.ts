import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from '../../adapters/observability.js';
import type { RejectionStore } from '../../domain/ports.js';
import { rawText } from './input-guards.js';

export interface RejectedResult {
  outcome: 'rejected';
  reason: string;
}

/**
 * Bad input is logged with its reason (never its content), counted, and kept for inspection. It returns normally
 * so that the platform does not retry what can never succeed; a failure to keep it does throw, so nothing is lost.
 */
export async function rejectInput(
  rejections: RejectionStore,
  source: string,
  reason: string,
  input: unknown,
  receivedAt: number,
): Promise<RejectedResult> {
  const raw = rawText(input);
  await rejections.keep({ source, reason, receivedAt, raw });
  logger.warn('input rejected', { source, reason, bytes: raw.length });
  metrics.addMetric('RejectedInputs', MetricUnit.Count, 1);
  return { outcome: 'rejected', reason };
}
