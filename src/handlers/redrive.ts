import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { systemClock } from '../adapters/clock.js';
import { redriveTargets } from '../adapters/dead-letters.js';
import type { RuleTarget } from '../adapters/iot-rules.js';
import { logger } from '../adapters/observability.js';
import { createSqsClient } from '../adapters/sqs-client.js';
import {
  parseStreamFailureRecord,
  type StreamBatchInfo,
  StreamRangeUnavailableError,
} from '../adapters/stream-dead-letters.js';
import type { AppWiring } from '../composition-root.js';
import { productionConfig } from '../config.js';
import type { Reconciler } from '../domain/reconciler.js';
import { forEachWithLimit } from '../shared/concurrency.js';
import * as z from '../shared/zod.js';
import { lambdaShell } from './shared/lambda-shell.js';
import { groupByDevice } from './shared/stream-batches.js';

export interface RedrivePorts extends Pick<AppWiring, 'clock' | 'config'> {
  reconciler: Pick<Reconciler, 'reconcile'>;
  sqs: SQSClient;
  /** IngestDlq. */
  queueUrl: string;
  /** Invokes an ingest function asynchronously, as the IoT rule did. */
  invoke(target: RuleTarget, event: unknown): Promise<void>;
  /** ReconcileDlq: the stream batches whose reconcile kept failing. */
  reconcileQueueUrl: string;
  /** Reads a parked batch's records back from the events stream (throws StreamRangeUnavailableError). */
  readStreamRange(info: StreamBatchInfo): Promise<DynamoDBRecord[]>;
}

export interface RedriveResult {
  /** IngestDlq messages fed back through an ingest function. */
  redriven: number;
  /** IngestDlq messages not understood (left in the queue). */
  unreadable: number;
  /** ReconcileDlq batches whose devices were all reconciled again. */
  reconciled: number;
  /** Devices reconciled for those batches. */
  reconciledDevices: number;
  /** ReconcileDlq messages left in the queue: not understood, range no longer in the stream, or a device failed. */
  leftInReconcileDlq: number;
}

/**
 * Invoked by hand after an incident. Feeds the messages parked in IngestDlq back through the ingest functions, and
 * reconciles again the devices of the stream batches parked in ReconcileDlq (their records are read back from the
 * stream). A message is deleted only once its work was done; one it cannot use stays for a person to look at.
 */
export function buildRedriveHandler(ports: RedrivePorts, maxMessages = 1000) {
  return lambdaShell(async (): Promise<RedriveResult> => {
    const result: RedriveResult = {
      redriven: 0,
      unreadable: 0,
      reconciled: 0,
      reconciledDevices: 0,
      leftInReconcileDlq: 0,
    };
    const topics = {
      willTopicFilter: ports.config.WILL_TOPIC_FILTER,
      birthTopicFilter: ports.config.BIRTH_TOPIC_FILTER,
    };
    while (result.redriven + result.unreadable < maxMessages) {
      const Messages = await receiveBatch(ports.sqs, ports.queueUrl, 60);
      if (Messages.length === 0) break;
      for (const message of Messages) {
        const targets = redriveTargets(message.Body ?? '', topics, ports.clock.now());
        if (!targets) {
          result.unreadable += 1;
          logger.warn('dead letter not understood; left in the queue', { messageId: message.MessageId });
          continue;
        }
        for (const { target, event } of targets) await ports.invoke(target, event);
        await ports.sqs.send(
          new DeleteMessageCommand({ QueueUrl: ports.queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
        result.redriven += 1;
      }
      if (result.unreadable > 0 && result.redriven === 0) break; // only unreadable ones left: stop
    }
    await redriveReconcileDlq(ports, result, maxMessages);
    logger.info('redrive finished', { ...result });
    return result;
  });
}

/** Up to ten messages, hidden from other readers for `visibilitySeconds` while they are redriven. */
async function receiveBatch(sqs: SQSClient, queueUrl: string, visibilitySeconds: number) {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: visibilitySeconds,
    }),
  );
  return Messages;
}

/** Reconciles again the devices of each batch parked in ReconcileDlq; reconciling is idempotent. */
async function redriveReconcileDlq(ports: RedrivePorts, result: RedriveResult, maxMessages: number) {
  let handled = 0;
  while (handled < maxMessages) {
    const Messages = await receiveBatch(ports.sqs, ports.reconcileQueueUrl, 300);
    if (Messages.length === 0) break;
    for (const message of Messages) {
      handled += 1;
      const info = parseStreamFailureRecord(message.Body ?? '');
      if (!info) {
        result.leftInReconcileDlq += 1;
        logger.warn('reconcile dead letter not understood; left in the queue', {
          messageId: message.MessageId,
        });
        continue;
      }
      let records: DynamoDBRecord[];
      try {
        records = await ports.readStreamRange(info);
      } catch (error) {
        if (!(error instanceof StreamRangeUnavailableError)) throw error;
        result.leftInReconcileDlq += 1;
        logger.error('parked stream batch is no longer in the stream; left in the queue', {
          messageId: message.MessageId,
          reason: error.reason,
          shardId: info.shardId,
          startSequenceNumber: info.startSequenceNumber,
          endSequenceNumber: info.endSequenceNumber,
        });
        continue;
      }
      const batches = groupByDevice({ Records: records });
      const failures = await forEachWithLimit([...batches.keys()], 8, async (deviceId) => {
        await ports.reconciler.reconcile(deviceId, batches.get(deviceId)?.events ?? []);
      });
      if (failures.length > 0) {
        result.leftInReconcileDlq += 1;
        for (const failure of failures)
          logger.error('redriven reconcile failed; batch left in the queue', {
            deviceId: failure.key,
            error: failure.error as Error,
          });
        continue;
      }
      await ports.sqs.send(
        new DeleteMessageCommand({ QueueUrl: ports.reconcileQueueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
      result.reconciled += 1;
      result.reconciledDevices += batches.size;
    }
  }
}

const redriveEnvSchema = z.object({
  INGEST_DLQ_URL: z.url(),
  INGEST_PRESENCE_FUNCTION_NAME: z.string().check(z.minLength(1)),
  INGEST_DEVICE_MESSAGE_FUNCTION_NAME: z.string().check(z.minLength(1)),
  RECONCILE_DLQ_URL: z.url(),
});

let streamBatches: Promise<Pick<RedrivePorts, 'reconciler' | 'readStreamRange'>> | undefined;

/**
 * The reconciler and the stream reader, built on first need and then kept for the container's life. Redrive is run
 * by hand, and most runs find no parked stream batch: loading the DynamoDB, SNS and Streams clients only when one is
 * there keeps its cold start that of its SQS work.
 */
function streamBatchPorts(): Promise<Pick<RedrivePorts, 'reconciler' | 'readStreamRange'>> {
  streamBatches ??= (async () => {
    const [{ productionReconcilerWiring }, { createDynamoDbStreamsClient }, { readStreamRange }] =
      await Promise.all([
        import('../composition/reconciler.js'),
        import('../adapters/dynamodb-streams-client.js'),
        import('../adapters/stream-range-reader.js'),
      ]);
    const streams = createDynamoDbStreamsClient();
    return {
      reconciler: productionReconcilerWiring().reconciler,
      readStreamRange: (info: StreamBatchInfo) => readStreamRange(streams, info),
    };
  })();
  return streamBatches;
}

function productionRedrivePorts(): RedrivePorts {
  const config = productionConfig();
  const env = redriveEnvSchema.parse({
    ...process.env,
    INGEST_DLQ_URL: process.env.INGEST_DLQ_URL ?? config.INGEST_DLQ_URL,
  });
  const lambda = new LambdaClient({ region: process.env.AWS_REGION, maxAttempts: 4 });
  const functionNames: Record<RuleTarget, string> = {
    ingestPresence: env.INGEST_PRESENCE_FUNCTION_NAME,
    ingestDeviceMessage: env.INGEST_DEVICE_MESSAGE_FUNCTION_NAME,
  };
  return {
    config,
    clock: systemClock,
    reconciler: { reconcile: async (...args) => (await streamBatchPorts()).reconciler.reconcile(...args) },
    sqs: createSqsClient(),
    queueUrl: env.INGEST_DLQ_URL,
    reconcileQueueUrl: env.RECONCILE_DLQ_URL,
    readStreamRange: async (info) => (await streamBatchPorts()).readStreamRange(info),
    invoke: async (target, event) => {
      await lambda.send(
        new InvokeCommand({
          FunctionName: functionNames[target],
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(event)),
        }),
      );
    },
  };
}

export const handler = buildRedriveHandler(productionRedrivePorts());
