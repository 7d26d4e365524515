import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from '../../adapters/observability.js';
import type { Clock, EventLog, RejectionStore } from '../../domain/ports.js';
import { rawText } from './input-guards.js';
import type { Parsed } from './iot-schemas.js';
import { type RejectedResult, rejectInput } from './reject.js';

export interface IngestPorts {
  eventLog: EventLog;
  rejections: RejectionStore;
  clock: Clock;
}

export type IngestResult = { outcome: 'stored' | 'duplicate' } | RejectedResult;

/** Shared body of the ingest functions: validate, then exactly one conditional write. */
export async function ingest(
  ports: IngestPorts,
  source: string,
  input: unknown,
  parse: (input: unknown, now: number) => Parsed,
): Promise<IngestResult> {
  const now = ports.clock.now();
  const parsed = parse(input, now);
  if (!parsed.ok) return rejectInput(ports.rejections, source, parsed.reason, input, now);
  const { event } = parsed;
  logger.appendKeys({
    deviceId: event.deviceId,
    sessionIdentifier: 'sessionIdentifier' in event ? event.sessionIdentifier : undefined,
  });
  const outcome = await ports.eventLog.append(event, rawText(input));
  metrics.addMetric(outcome === 'stored' ? 'EventsStored' : 'DuplicateDeliveries', MetricUnit.Count, 1);
  logger.debug('event ingested', { kind: event.kind, outcome });
  return { outcome };
}
