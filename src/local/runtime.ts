import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import { type FaultInjector, installFaults } from '../adapters/faults.js';
import { applyTopicRules, type MqttMessage, type RuleTarget } from '../adapters/iot-rules.js';
import type { AppWiring } from '../composition-root.js';
import type { AnyAlert, CheckScheduler } from '../domain/ports.js';
import { buildGetIncidentHandler, buildListIncidentsHandler } from '../handlers/incidents.js';
import type { RedriveResult } from '../handlers/redrive.js';
import { forEachWithLimit } from '../shared/concurrency.js';
import { lambdaContext } from './lambda-context.js';
import type { LocalAws } from './services/local-aws.js';
import { StreamPump } from './stream-pump.js';
import type { Timers } from './timers.js';

/** The check queue's visibility timeout: when a failed check message is delivered again. */
const CHECK_VISIBILITY_TIMEOUT_MS = 60_000;

type Handler<E = unknown, R = unknown> = (event: E, context: Context) => Promise<R>;

export interface ReceivedAlert {
  alertId: string;
  type: AnyAlert['type'];
  deviceId: string;
  sessionIdentifier: string;
  disconnectReason: string | null;
  since: string;
  publishedAt: string;
  [field: string]: unknown;
}

export interface RuntimeCounters {
  delivered: number;
  /** Lambda invocations, as AWS would bill them (retries included). */
  invocations: number;
  rejected: number;
  unrouted: number;
  retries: number;
  deadLettered: number;
}

export interface LocalRuntimeOptions {
  aws: LocalAws;
  timers: Timers;
  /** Lambda retries a failed asynchronous invocation twice, 1 and 2 minutes later. */
  asyncRetryDelaysMs?: number[];
  /** How often the scheduled sweep runs. */
  sweepEveryMs?: number;
  onDeadLetter?: (target: string, event: unknown, error: unknown) => void;
  /** Faults to inject in this run (else IOT_PRESENCE_FAULTS decides). */
  faults?: FaultInjector;
}

/** Everything that runs the deployed functions on one machine: rules, stream mapping, delay queue, schedule. */
export interface LocalRuntime {
  ports: AppWiring;
  handlers: {
    getDevice: Handler;
    listDevices: Handler;
    listDeviceEvents: Handler;
    listAlerts: Handler;
    listIncidents: Handler;
    getIncident: Handler;
    health: Handler;
  };
  counters: RuntimeCounters;
  deadLetters: Array<{ target: string; event: unknown; error: string }>;
  /** One MQTT message through the topic rules, the ingest function, and the stream into the reconciler. */
  publish(message: MqttMessage): Promise<void>;
  /**
   * Messages that arrive within one stream batching window: ingested concurrently, then the stream is read once,
   * as Lambda's event source mapping batches them.
   */
  publishBatch(messages: readonly MqttMessage[]): Promise<void>;
  /**
   * Feeds dead-lettered events back through their function and reconciles again the devices of parked stream
   * batches (what `npm run redrive` does).
   */
  redrive(): Promise<RedriveResult>;
  /** Reads (and removes) the alerts that reached the queue subscribed to the topic. */
  receiveAlerts(): Promise<ReceivedAlert[]>;
  /** Queues a settle check as the deployed reconciler does (local: a timer with the delay queue's semantics). */
  scheduleCheck(deviceId: string, dueAt: number): Promise<void>;
  sweep(): Promise<void>;
  stop(): Promise<void>;
}

export async function createLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  Object.assign(process.env, options.aws.env);
  // Handler modules read their configuration at import: import them only once the environment is set.
  const [
    { createAppWiring },
    { createAwsClients },
    { parseConfig, parseRedriveConfig },
    presence,
    deviceMessage,
    reconcileEvents,
    settleCheck,
    sweepModule,
    getDevice,
    listDevices,
    listDeviceEvents,
    listAlerts,
    health,
    redriveModule,
    redriveComposition,
  ] = await Promise.all([
    import('../composition-root.js'),
    import('../adapters/aws-clients.js'),
    import('../config.js'),
    import('../handlers/ingest-presence.js'),
    import('../handlers/ingest-device-message.js'),
    import('../handlers/reconcile-events.js'),
    import('../handlers/settle-check.js'),
    import('../handlers/sweep.js'),
    import('../handlers/get-device.js'),
    import('../handlers/list-devices.js'),
    import('../handlers/list-device-events.js'),
    import('../handlers/list-alerts.js'),
    import('../handlers/health.js'),
    import('../handlers/redrive.js'),
    import('../composition/redrive.js'),
  ]);
  const { timers } = options;
  const retryDelays = options.asyncRetryDelaysMs ?? [60_000, 120_000];
  const counters: RuntimeCounters = {
    delivered: 0,
    invocations: 0,
    rejected: 0,
    unrouted: 0,
    retries: 0,
    deadLettered: 0,
  };
  const deadLetters: LocalRuntime['deadLetters'] = [];

  let settleCheckHandler: Handler<SQSEvent> | undefined;
  const scheduler: CheckScheduler = {
    async scheduleCheck(deviceId, dueAt) {
      timers.at(dueAt, async () => {
        const body = JSON.stringify({ deviceId, dueAt });
        const event: SQSEvent = { Records: [sqsRecord(body)] };
        let failed: boolean;
        counters.invocations += 1;
        try {
          const result = (await settleCheckHandler?.(event, lambdaContext('settleCheck'))) as
            | { batchItemFailures?: unknown[] }
            | undefined;
          failed = (result?.batchItemFailures?.length ?? 0) > 0;
        } catch {
          failed = true;
        }
        // A failed message becomes visible again after the queue's visibility timeout.
        if (failed) {
          counters.retries += 1;
          await scheduler.scheduleCheck(deviceId, timers.now() + CHECK_VISIBILITY_TIMEOUT_MS, timers.now());
        }
      });
    },
  };
  const config = parseConfig(process.env);
  if (options.faults) installFaults(options.faults);
  // Backoff in real milliseconds would stretch a virtual-time replay: retry quickly, as many times.
  const clients = createAwsClients({ retryBackoffMs: 5 });
  const ports = createAppWiring(config, { clock: { now: () => timers.now() }, scheduler, clients });
  settleCheckHandler = settleCheck.buildSettleCheckHandler(ports) as Handler<SQSEvent>;
  const ingest: Record<RuleTarget, Handler> = {
    ingestPresence: presence.buildIngestPresenceHandler(ports) as Handler,
    ingestDeviceMessage: deviceMessage.buildIngestDeviceMessageHandler(ports) as Handler,
  };
  const reconcileHandler = reconcileEvents.buildReconcileEventsHandler(ports) as Handler<DynamoDBStreamEvent>;
  const sweepHandler = sweepModule.buildSweepHandler(ports) as Handler;

  const pump = new StreamPump(
    options.aws.dynamoEndpoint,
    options.aws.eventsStreamArn,
    async (event, shardId) => {
      // The event source mapping retries a failed batch; reconciling is idempotent.
      for (let attempt = 1; ; attempt += 1) {
        let failed: boolean;
        counters.invocations += 1;
        try {
          const result = (await reconcileHandler(event, lambdaContext('reconcileEvents'))) as {
            batchItemFailures: unknown[];
          };
          failed = result.batchItemFailures.length > 0;
        } catch {
          failed = true;
        }
        if (!failed) return;
        counters.retries += 1;
        if (attempt >= 10) {
          counters.deadLettered += 1;
          deadLetters.push({ target: 'reconcileEvents', event, error: 'batch kept failing' });
          await sqs.send(
            new SendMessageCommand({
              QueueUrl: options.aws.env.RECONCILE_DLQ_URL,
              MessageBody: JSON.stringify(
                streamFailureRecord(event, shardId, options.aws.eventsStreamArn, timers.now()),
              ),
            }),
          );
          return;
        }
      }
    },
  );
  await pump.start();

  let draining: Promise<void> | undefined;
  let drainAgain = false;
  async function drainStream(): Promise<void> {
    if (draining) {
      drainAgain = true;
      return draining;
    }
    draining = (async () => {
      do {
        drainAgain = false;
        await pump.drain();
      } while (drainAgain);
    })().finally(() => {
      draining = undefined;
    });
    return draining;
  }

  async function invokeAsync(target: RuleTarget, event: unknown, attempt = 0): Promise<void> {
    counters.invocations += 1;
    try {
      const result = (await ingest[target](event, lambdaContext(target))) as { outcome?: string };
      if (result?.outcome === 'rejected') counters.rejected += 1;
    } catch (error) {
      const delay = retryDelays[attempt];
      if (delay === undefined) {
        counters.deadLettered += 1;
        deadLetters.push({ target, event, error: error instanceof Error ? error.name : String(error) });
        // The same record Lambda's on-failure destination writes, in the same kind of queue.
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: options.aws.env.INGEST_DLQ_URL,
            MessageBody: JSON.stringify({
              requestContext: { functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${target}` },
              requestPayload: event,
              responseContext: { functionError: 'Unhandled' },
            }),
          }),
        );
        options.onDeadLetter?.(target, event, error);
        return;
      }
      counters.retries += 1;
      timers.at(timers.now() + delay, async () => {
        await invokeAsync(target, event, attempt + 1);
        await drainStream();
      });
    }
  }

  async function routeMessage(message: MqttMessage): Promise<void> {
    counters.delivered += 1;
    const invocations = applyTopicRules(message, {
      willTopicFilter: config.WILL_TOPIC_FILTER,
      birthTopicFilter: config.BIRTH_TOPIC_FILTER,
    });
    if (invocations.length === 0) counters.unrouted += 1;
    for (const invocation of invocations) await invokeAsync(invocation.target, invocation.event);
  }

  const sqs = new SQSClient({
    endpoint: options.aws.snsSqsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

  const streams = new DynamoDBStreamsClient({
    endpoint: options.aws.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const redriveHandler = redriveModule.buildRedriveHandler(
    redriveComposition.createRedriveWiring(parseRedriveConfig(process.env), {
      sqs,
      streams,
      ingest: { invoke: (target, event) => invokeAsync(target, event) },
      reconciler: ports.reconciler,
      clock: ports.clock,
    }),
  ) as Handler<unknown, RedriveResult>;

  const sweepEvery = options.sweepEveryMs ?? 60_000;
  const scheduleSweep = (at: number) =>
    timers.at(
      at,
      async () => {
        // A failed sweep is simply the next one's work.
        await sweepHandler({}, lambdaContext('sweep')).catch(() => undefined);
        scheduleSweep(at + sweepEvery);
      },
      { background: true },
    );
  if (sweepEvery > 0) scheduleSweep(timers.now() + sweepEvery);

  return {
    ports,
    handlers: {
      getDevice: getDevice.buildGetDeviceHandler(ports) as Handler,
      listDevices: listDevices.buildListDevicesHandler(ports) as Handler,
      listDeviceEvents: listDeviceEvents.buildListDeviceEventsHandler(ports) as Handler,
      listAlerts: listAlerts.buildListAlertsHandler(ports) as Handler,
      listIncidents: buildListIncidentsHandler(ports) as Handler,
      getIncident: buildGetIncidentHandler(ports) as Handler,
      health: health.buildHealthHandler(ports) as Handler,
    },
    counters,
    deadLetters,
    async publish(message) {
      await routeMessage(message);
      await drainStream();
    },
    async publishBatch(messages) {
      await forEachWithLimit(messages, 16, routeMessage);
      await drainStream();
    },
    async redrive() {
      const result = await redriveHandler({}, lambdaContext('redrive'));
      deadLetters.splice(0);
      await drainStream();
      return result;
    },
    async receiveAlerts() {
      const alerts: ReceivedAlert[] = [];
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: options.aws.alertQueueUrl, MaxNumberOfMessages: 10 }),
        );
        if (Messages.length === 0) return alerts;
        for (const message of Messages) {
          const envelope = JSON.parse(message.Body ?? '{}') as { Message?: string };
          alerts.push(JSON.parse(envelope.Message ?? message.Body ?? '{}') as ReceivedAlert);
        }
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.aws.alertQueueUrl,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
    },
    async sweep() {
      await sweepHandler({}, lambdaContext('sweep'));
    },
    async scheduleCheck(deviceId, dueAt) {
      await scheduler.scheduleCheck(deviceId, dueAt, timers.now());
    },
    async stop() {
      await draining;
      pump.close();
      sqs.destroy();
      streams.destroy();
    },
  };
}

/** The record Lambda's on-failure destination of a stream mapping writes: the batch's range, not its records. */
function streamFailureRecord(event: DynamoDBStreamEvent, shardId: string, streamArn: string, now: number) {
  const sequences = event.Records.map((record) => record.dynamodb?.SequenceNumber ?? '0');
  const at = new Date(now).toISOString();
  return {
    requestContext: {
      requestId: `local-${now}`,
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:reconcileEvents',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 10,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: at,
    DDBStreamBatchInfo: {
      shardId,
      startSequenceNumber: sequences[0] ?? '0',
      endSequenceNumber: sequences[sequences.length - 1] ?? '0',
      approximateArrivalOfFirstRecord: at,
      approximateArrivalOfLastRecord: at,
      batchSize: event.Records.length,
      streamArn,
    },
  };
}

let sequence = 0;
function sqsRecord(body: string): SQSEvent['Records'][number] {
  sequence += 1;
  return {
    messageId: `local-${sequence}`,
    receiptHandle: `local-${sequence}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:local-checks',
    awsRegion: 'us-east-1',
  };
}
