import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMessageBody } from '../../src/adapters/check-message.js';
import type { InvocationCounters } from '../../src/local/lambda/function.js';
import { SqsMapping } from '../../src/local/lambda/sqs-mapping.js';
import { createLocalRuntime, type LocalRuntime } from '../../src/local/runtime.js';
import { LOCAL_CREDENTIALS, type LocalAws, startLocalAws } from '../../src/local/services/local-aws.js';
import { startSnsSqsEmulator } from '../../src/local/services/sns-sqs-emulator.js';
import { RealTimers } from '../../src/local/timers.js';
import {
  apiEvent,
  callApi,
  connectedMessage,
  disconnectedMessage,
  newSession,
} from '../fixtures/virtual-runtime.js';

/** Polls `read` until `accept` says yes; fails after timeoutMs with the last value. */
async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the SQS event source mapping on the emulator', () => {
  let emulator: Awaited<ReturnType<typeof startSnsSqsEmulator>>;
  let sqs: SQSClient;

  beforeAll(async () => {
    emulator = await startSnsSqsEmulator();
    sqs = new SQSClient({ endpoint: emulator.address, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  });

  afterAll(async () => {
    sqs?.destroy();
    await emulator?.stop();
  });

  /** A queue whose messages come back 1 s after a failure, and the settle check's mapping polling it. */
  const settleCheckMapping = (name: string, handler: (event: SQSEvent) => Promise<SQSBatchResponse>) => {
    const queue = emulator.createQueue(name, { attributes: { VisibilityTimeout: '1' } });
    const counters: InvocationCounters = { invocations: 0, retries: 0, deadLettered: 0 };
    const mapping = new SqsMapping({
      sqs,
      ...queue,
      functionName: 'settleCheck',
      pollers: 1,
      waitTimeSeconds: 1,
      counters,
      handler,
    });
    return { queue, counters, mapping };
  };

  it('hands delayed messages over in batches of at most ten and deletes every message the function handled', async () => {
    // Arrange
    const bodies = Array.from({ length: 14 }, (_, i) => checkMessageBody(`device-${i}`, i, i));
    const batches: string[][] = [];
    const { queue, counters, mapping } = settleCheckMapping(
      'batches',
      async (event: SQSEvent): Promise<SQSBatchResponse> => {
        batches.push(event.Records.map((record) => record.body));
        return { batchItemFailures: [] };
      },
    );

    // Act
    for (const chunk of [bodies.slice(0, 10), bodies.slice(10)]) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queue.queueUrl,
          Entries: chunk.map((body, i) => ({ Id: String(i), MessageBody: body, DelaySeconds: 1 })),
        }),
      );
    }
    mapping.start();
    try {
      await eventually(
        async () => batches.flat().length,
        (count) => count >= bodies.length,
      );
      // Past the visibility timeout: a message that was not deleted would be handed over again.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    } finally {
      await mapping.stop();
    }

    // Assert
    expect(batches.flat().sort()).toEqual([...bodies].sort());
    expect(Math.max(...batches.map((batch) => batch.length))).toBeLessThanOrEqual(10);
    expect(counters.retries).toBe(0);
  });

  it('delivers again, after the visibility timeout, only the messages the function reported as failed', async () => {
    // Arrange
    const bodies = ['fails-once', 'ok-1', 'ok-2'].map((deviceId) => checkMessageBody(deviceId, 0, 0));
    const received: Array<{ body: string; receiveCount: string }> = [];
    const { queue, counters, mapping } = settleCheckMapping(
      'partial',
      async (event: SQSEvent): Promise<SQSBatchResponse> => {
        const failures: SQSBatchResponse['batchItemFailures'] = [];
        for (const record of event.Records) {
          received.push({ body: record.body, receiveCount: record.attributes.ApproximateReceiveCount });
          const first = record.attributes.ApproximateReceiveCount === '1';
          if (record.body.includes('fails-once') && first)
            failures.push({ itemIdentifier: record.messageId });
        }
        return { batchItemFailures: failures };
      },
    );
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })),
      }),
    );

    // Act
    mapping.start();
    try {
      await eventually(
        async () => received.length,
        (count) => count >= 4,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    } finally {
      await mapping.stop();
    }

    // Assert
    const failing = bodies[0] as string;
    expect(received.filter((r) => r.body === failing).map((r) => r.receiveCount)).toEqual(['1', '2']);
    expect(received.filter((r) => r.body !== failing).map((r) => r.receiveCount)).toEqual(['1', '1']);
    expect(counters.retries).toBe(1);
  });
});

describe('settle checks through the delay queue, with the deployed scheduler and handlers', () => {
  let aws: LocalAws;
  let timers: RealTimers;
  let runtime: LocalRuntime;
  const errors: unknown[] = [];

  beforeAll(async () => {
    aws = await startLocalAws({ prefix: 'settle-queue', settleWindowSeconds: 2 });
    timers = new RealTimers((error) => errors.push(error));
    runtime = await createLocalRuntime({
      aws,
      timers,
      checkQueue: 'emulator',
      // No sweep: only the settle check can settle a device here.
      sweepEveryMs: 0,
      onError: (error) => errors.push(error),
    });
  });

  afterAll(async () => {
    timers?.cancelAll();
    await runtime?.stop();
    await aws?.stop();
  });

  it('settles an abruptly disconnected device and publishes its offline alert once the delayed check arrives', async () => {
    // Arrange
    const session = newSession('queue-outage', 1);
    const connectedAt = Date.now();
    const publish = async (message: { topic: string; payload: unknown }) =>
      runtime.publish({
        topic: message.topic,
        payload: Buffer.from(JSON.stringify(message.payload)),
        clientId: null,
        receivedAt: Date.now(),
      });
    await publish(connectedMessage(session, connectedAt));

    // Act
    const disconnectedAt = Date.now();
    await publish(disconnectedMessage(session, disconnectedAt, 'MQTT_KEEP_ALIVE_TIMEOUT'));
    const pending = await callApi(
      runtime.handlers.getDevice,
      apiEvent('/devices/queue-outage', { deviceId: 'queue-outage' }),
    );
    const settled = await eventually(
      () =>
        callApi(runtime.handlers.getDevice, apiEvent('/devices/queue-outage', { deviceId: 'queue-outage' })),
      (response) => response.body.settled === true,
    );
    const alerts = await eventually(
      () => runtime.receiveAlerts(),
      (received) => received.length > 0,
    );

    // Assert
    expect(pending.body).toMatchObject({ status: 'disconnected', settled: false });
    expect(settled.body).toMatchObject({ status: 'disconnected', settled: true });
    expect(alerts.map((alert) => [alert.type, alert.sessionIdentifier])).toEqual([
      ['offline', session.sessionIdentifier],
    ]);
    expect(Date.parse(alerts[0]?.publishedAt ?? '')).toBeGreaterThanOrEqual(disconnectedAt + 2_000);
    expect(errors).toEqual([]);
  });
});
