import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { VirtualCheckQueue } from '../../src/local/lambda/virtual-check-queue.js';
import { VirtualTimers } from '../../src/local/timers.js';

const DUE = 60_000;

/** A queue whose handler records each event's devices and how many events it ran at once. */
function recordingQueue(batchSize?: number) {
  const timers = new VirtualTimers(0);
  const events: string[][] = [];
  let running = 0;
  let mostAtOnce = 0;
  const queue = new VirtualCheckQueue({
    timers,
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:checks',
    functionName: 'settleCheck',
    counters: { invocations: 0, retries: 0, deadLettered: 0 },
    visibilityTimeoutMs: 30_000,
    ...(batchSize === undefined ? {} : { batchSize }),
    handler: async (event: SQSEvent) => {
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      // A handler waits on I/O: events delivered at once would overlap here.
      await new Promise((resolve) => setImmediate(resolve));
      events.push(event.Records.map((record) => (JSON.parse(record.body) as { deviceId: string }).deviceId));
      running -= 1;
      return { batchItemFailures: [] };
    },
  });
  return { timers, queue, events, mostAtOnce: () => mostAtOnce };
}

describe('VirtualCheckQueue', () => {
  it('delivers checks arriving together one event after the other', async () => {
    const { timers, queue, events, mostAtOnce } = recordingQueue();
    for (const deviceId of ['d1', 'd2', 'd3', 'd4']) await queue.scheduleCheck(deviceId, DUE, 0);
    await timers.advanceTo(DUE);
    expect(events).toEqual([['d1'], ['d2'], ['d3'], ['d4']]);
    expect(mostAtOnce()).toBe(1);
  });

  it('puts up to batchSize checks arriving together in one event', async () => {
    const { timers, queue, events, mostAtOnce } = recordingQueue(2);
    for (const deviceId of ['d1', 'd2', 'd3']) await queue.scheduleCheck(deviceId, DUE, 0);
    await timers.advanceTo(DUE);
    expect(events).toEqual([['d1', 'd2'], ['d3']]);
    expect(mostAtOnce()).toBe(1);
  });
});
