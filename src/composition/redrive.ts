import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { systemClock } from '../adapters/clock.js';
import { createDynamoDbStreamsClient } from '../adapters/dynamodb-streams-client.js';
import { createLambdaClient, LambdaIngestInvoker } from '../adapters/lambda-ingest-invoker.js';
import { createSqsClient } from '../adapters/sqs-client.js';
import { SqsDeadLetterQueue } from '../adapters/sqs-dead-letter-queue.js';
import { DynamoDbStreamRangeReader } from '../adapters/stream-range-reader.js';
import { productionRedriveConfig, type RedriveConfig } from '../config.js';
import type { DeadLetterQueue, IngestInvoker, StreamRangeReader } from '../domain/dead-letters.js';
import type { Clock } from '../domain/ports.js';
import type { Reconciler } from '../domain/reconciler.js';

/** What the redrive function uses: both dead-letter queues, the ingest functions, the events stream, the reconciler. */
export interface RedriveWiring {
  config: RedriveConfig;
  clock: Clock;
  /** IngestDlq: the events whose ingest invocations all failed. */
  ingestDlq: DeadLetterQueue;
  /** ReconcileDlq: the stream batches whose reconcile kept failing. */
  reconcileDlq: DeadLetterQueue;
  ingest: IngestInvoker;
  streamRanges: StreamRangeReader;
  reconciler: Pick<Reconciler, 'reconcile'>;
}

export interface RedriveDependencies {
  sqs: SQSClient;
  streams: DynamoDBStreamsClient;
  /** The deployed ingest functions; the local runtime passes its own invocation. */
  ingest: IngestInvoker;
  reconciler: Pick<Reconciler, 'reconcile'>;
  clock?: Clock;
}

export function createRedriveWiring(config: RedriveConfig, deps: RedriveDependencies): RedriveWiring {
  return {
    config,
    clock: deps.clock ?? systemClock,
    ingestDlq: new SqsDeadLetterQueue(deps.sqs, config.INGEST_DLQ_URL),
    reconcileDlq: new SqsDeadLetterQueue(deps.sqs, config.RECONCILE_DLQ_URL),
    ingest: deps.ingest,
    streamRanges: new DynamoDbStreamRangeReader(deps.streams),
    reconciler: deps.reconciler,
  };
}

let production: RedriveWiring | undefined;

/** The wiring of the deployed redrive function, built once per cold start (which fails on a missing setting). */
export function productionRedriveWiring(): RedriveWiring {
  if (production) return production;
  const config = productionRedriveConfig();
  const sqs = createSqsClient();
  production = createRedriveWiring(config, {
    sqs,
    streams: createDynamoDbStreamsClient(),
    ingest: new LambdaIngestInvoker(createLambdaClient(), {
      ingestPresence: config.INGEST_PRESENCE_FUNCTION_NAME,
      ingestDeviceMessage: config.INGEST_DEVICE_MESSAGE_FUNCTION_NAME,
    }),
    reconciler: reconcilerOnFirstUse(config, sqs),
  });
  return production;
}

/**
 * The reconciler and its DynamoDB and SNS clients, loaded when the first parked stream batch is reconciled: a cold
 * start reads the queues first, and a redrive of ingest dead letters never needs them.
 */
function reconcilerOnFirstUse(config: RedriveConfig, sqs: SQSClient): Pick<Reconciler, 'reconcile'> {
  let reconciler: Promise<Pick<Reconciler, 'reconcile'>> | undefined;
  const load = async () => {
    const [{ createReconcilerWiring }, { createDynamoDbClient }, { createSnsClient }] = await Promise.all([
      import('./reconciler.js'),
      import('../adapters/dynamodb-client.js'),
      import('../adapters/sns-client.js'),
    ]);
    return createReconcilerWiring(config, { dynamo: createDynamoDbClient(), sns: createSnsClient(), sqs })
      .reconciler;
  };
  return {
    reconcile: async (...args) => {
      reconciler ??= load();
      return (await reconciler).reconcile(...args);
    },
  };
}
