import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBRecord } from 'aws-lambda';
import { logger, metrics } from '../adapters/observability.js';
import { countedChangesOfStreamRecords } from '../adapters/stream-images.js';
import { addMoves, type CountDeltas } from '../domain/fleet-counts.js';
import type { FleetCountStore } from '../domain/ports.js';
import * as z from '../shared/zod.js';
import { lambdaShell } from './shared/lambda-shell.js';

/** The state Lambda keeps for the window between invocations: the deltas so far, and the last sequence number. */
const THROUGH = '$through';

/** A batch of the devices stream in a tumbling window, as Lambda delivers it. */
const windowEventSchema = z.object({
  Records: z.array(z.unknown()),
  window: z.object({ start: z.iso.datetime(), end: z.iso.datetime() }),
  state: z._default(z.record(z.string(), z.union([z.number(), z.string()])), {}),
  shardId: z.string().check(z.minLength(1)),
  isFinalInvokeForWindow: z.boolean(),
  isWindowTerminatedEarly: z._default(z.boolean(), false),
});

export type WindowState = Record<string, number | string>;

const bySequence = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined ? a : BigInt(a) >= BigInt(b) ? a : b;

/**
 * Triggered by the devices stream with a tumbling window: adds up how devices moved between kinds over the window
 * (Lambda carries the sum from one invocation to the next as the window's state) and applies the sum to the counter
 * items once, at the window's final invocation. A window delivered again (a retry) is recognised by its shard and
 * last sequence number and adds nothing.
 */
export function buildCountFleetHandler(wiring: { counts: FleetCountStore }) {
  return lambdaShell(async (input: unknown): Promise<{ state: WindowState }> => {
    const event = windowEventSchema.parse(input);
    const { [THROUGH]: through, ...carried } = event.state;
    const changes = countedChangesOfStreamRecords(event.Records as DynamoDBRecord[]);
    const deltas: CountDeltas = addMoves(
      Object.fromEntries(
        Object.entries(carried).filter((e): e is [string, number] => typeof e[1] === 'number'),
      ),
      changes.moves,
    );
    const throughSequence = bySequence(
      typeof through === 'string' ? through : undefined,
      changes.throughSequence,
    );
    if (!event.isFinalInvokeForWindow && !event.isWindowTerminatedEarly) {
      return { state: { ...deltas, ...(throughSequence ? { [THROUGH]: throughSequence } : {}) } };
    }
    // Nothing moved (the counter items' own changes, writes that kept every device's kind): nothing to apply.
    if (throughSequence !== undefined && Object.keys(deltas).length > 0) {
      const outcome = await wiring.counts.apply(
        { shardId: event.shardId, throughSequence, endedAt: Date.parse(event.window.end) },
        deltas,
      );
      metrics.addMetric('FleetCountWindows', MetricUnit.Count, 1);
      if (outcome === 'already-applied')
        logger.info('fleet count window already applied', { shardId: event.shardId });
    }
    return { state: {} };
  });
}
