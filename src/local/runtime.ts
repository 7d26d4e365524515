/**
 * The deployed functions on one machine, wired the way AWS wires them: the IoT topic rules invoke the ingest
 * functions asynchronously (lambda/async-invocation.ts), the events table's stream feeds the reconciler
 * (lambda/stream-mapping.ts), the delay queue feeds the settle check (lambda/sqs-mapping.ts on the emulator, or
 * lambda/virtual-check-queue.ts in virtual time) and a schedule runs the sweep (lambda/schedule.ts).
 */
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import { type FaultInjector, installFaults } from '../adapters/faults.js';
import { applyTopicRules, type MqttMessage, type RuleTarget } from '../adapters/iot-rules.js';
import { SqsCheckScheduler } from '../adapters/sqs-check-scheduler.js';
import type { AppWiring } from '../composition-root.js';
import type { AnyAlert, CheckScheduler } from '../domain/ports.js';
import { buildFleetHandler } from '../handlers/fleet.js';
import { buildGetIncidentHandler, buildListIncidentsHandler } from '../handlers/incidents.js';
import type { RedriveResult } from '../handlers/redrive.js';
import { AsyncInvocation } from './lambda/async-invocation.js';
import type { DeadLetter, InvocationCounters, LambdaHandler } from './lambda/function.js';
import { scheduleEvery } from './lambda/schedule.js';
import { SqsMapping } from './lambda/sqs-mapping.js';
import { StreamMapping } from './lambda/stream-mapping.js';
import { VirtualCheckQueue } from './lambda/virtual-check-queue.js';
import { lambdaContext } from './lambda-context.js';
import { CHECK_VISIBILITY_TIMEOUT_SECONDS, LOCAL_CREDENTIALS, type LocalAws } from './services/local-aws.js';
import type { Timers } from './timers.js';

type Handler<E = unknown, R = unknown> = LambdaHandler<E, R>;

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

export interface RuntimeCounters extends InvocationCounters {
  delivered: number;
  rejected: number;
  unrouted: number;
}

export interface LocalRuntimeOptions {
  aws: LocalAws;
  timers: Timers;
  /**
   * Where settle checks wait: `emulator` puts them on the emulator's delay queue with the deployed SqsCheckScheduler
   * and consumes the queue like Lambda's SQS event source mapping (real time only: the emulator delays on the wall
   * clock); `virtual` (default) keeps them on `timers`, for a virtual clock.
   */
  checkQueue?: 'emulator' | 'virtual';
  /** Lambda retries a failed asynchronous invocation twice, 1 and 2 minutes later. */
  asyncRetryDelaysMs?: number[];
  /** How often the scheduled sweep runs. */
  sweepEveryMs?: number;
  onDeadLetter?: (target: string, event: unknown, error: unknown) => void;
  /** Problems of the parts that run on their own (the SQS pollers). */
  onError?: (error: unknown) => void;
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
    fleet: Handler;
    health: Handler;
  };
  counters: RuntimeCounters;
  deadLetters: DeadLetter[];
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
  /** Queues a settle check as the deployed reconciler does (on the delay queue, or on the virtual one). */
  scheduleCheck(deviceId: string, dueAt: number): Promise<void>;
  sweep(): Promise<void>;
  stop(): Promise<void>;
}

export async function createLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const { aws, timers } = options;
  const modules = await importFunctionModules(aws.env);
  const counters: RuntimeCounters = {
    delivered: 0,
    invocations: 0,
    rejected: 0,
    unrouted: 0,
    retries: 0,
    deadLettered: 0,
  };
  const deadLetters: DeadLetter[] = [];
  // One SQS client on the emulator for the destinations, the alert inbox, the check queue and its pollers.
  const sqs = new SQSClient({
    endpoint: aws.snsSqsEndpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const sendTo = (queueUrl: string) => async (record: unknown) => {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(record) }));
  };

  // The settle check's queue. Its consumer needs the handler, which needs the ports, which need the scheduler.
  let settleCheckHandler: Handler<SQSEvent, { batchItemFailures: Array<{ itemIdentifier: string }> }> = () =>
    Promise.reject(new Error('the settle check ran before the runtime was ready'));
  const settleCheck: Handler<SQSEvent, { batchItemFailures: Array<{ itemIdentifier: string }> }> = (
    event,
    context,
  ) => settleCheckHandler(event, context);
  const virtualChecks =
    options.checkQueue === 'emulator'
      ? undefined
      : new VirtualCheckQueue({
          timers,
          queueArn: aws.checkQueueArn,
          functionName: 'settleCheck',
          handler: settleCheck,
          counters,
          visibilityTimeoutMs: CHECK_VISIBILITY_TIMEOUT_SECONDS * 1000,
        });

  const config = modules.parseConfig(process.env);
  if (options.faults) installFaults(options.faults);
  // Backoff in real milliseconds would stretch a virtual-time replay: retry quickly, as many times.
  const clients = modules.createAwsClients({ retryBackoffMs: 5 });
  // The deployed scheduler: a delayed message on the check queue. Its client names the emulator as its endpoint: the
  // emulator's queue URLs carry a host name (sqs.<region>.localhost) that only an explicit endpoint overrides.
  const scheduler: CheckScheduler =
    virtualChecks ?? new SqsCheckScheduler(sqs, aws.env.CHECK_QUEUE_URL as string);
  const ports = modules.createAppWiring(config, { clock: { now: () => timers.now() }, clients, scheduler });
  const fn = modules.buildHandlers(ports);
  settleCheckHandler = fn.settleCheck;

  const stream = new StreamMapping({
    dynamoEndpoint: aws.dynamoEndpoint,
    streamArn: aws.eventsStreamArn,
    functionName: 'reconcileEvents',
    handler: fn.reconcileEvents,
    counters,
    deadLetters,
    onFailureDestination: sendTo(aws.env.RECONCILE_DLQ_URL as string),
    now: () => timers.now(),
  });
  await stream.start();

  const ingest = new AsyncInvocation<RuleTarget>(
    { ingestPresence: fn.ingestPresence, ingestDeviceMessage: fn.ingestDeviceMessage },
    {
      timers,
      counters,
      deadLetters,
      retryDelaysMs: options.asyncRetryDelaysMs ?? [60_000, 120_000],
      onFailureDestination: sendTo(aws.env.INGEST_DLQ_URL as string),
      onResult: (_target, result) => {
        if ((result as { outcome?: string } | undefined)?.outcome === 'rejected') counters.rejected += 1;
      },
      afterRetry: () => stream.drain(),
      ...(options.onDeadLetter ? { onDeadLetter: options.onDeadLetter } : {}),
    },
  );

  const checks =
    options.checkQueue === 'emulator'
      ? new SqsMapping({
          sqs,
          queueUrl: aws.env.CHECK_QUEUE_URL as string,
          queueArn: aws.checkQueueArn,
          functionName: 'settleCheck',
          handler: settleCheck,
          counters,
          ...(options.onError ? { onError: options.onError } : {}),
        })
      : undefined;
  checks?.start();

  scheduleEvery(timers, options.sweepEveryMs ?? 60_000, 'sweep', fn.sweep);

  async function routeMessage(message: MqttMessage): Promise<void> {
    counters.delivered += 1;
    const invocations = applyTopicRules(message, {
      willTopicFilter: config.WILL_TOPIC_FILTER,
      birthTopicFilter: config.BIRTH_TOPIC_FILTER,
    });
    if (invocations.length === 0) counters.unrouted += 1;
    for (const invocation of invocations) await ingest.invoke(invocation.target, invocation.event);
  }

  const streams = new DynamoDBStreamsClient({
    endpoint: aws.dynamoEndpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const redriveHandler = modules.buildRedriveHandler(
    modules.createRedriveWiring(modules.parseRedriveConfig(process.env), {
      sqs,
      streams,
      ingest: { invoke: (target, event) => ingest.invoke(target, event) },
      reconciler: ports.reconciler,
      clock: ports.clock,
    }),
  );

  return {
    ports,
    handlers: {
      getDevice: fn.getDevice,
      listDevices: fn.listDevices,
      listDeviceEvents: fn.listDeviceEvents,
      listAlerts: fn.listAlerts,
      listIncidents: fn.listIncidents,
      getIncident: fn.getIncident,
      fleet: fn.fleet,
      health: fn.health,
    },
    counters,
    deadLetters,
    async publish(message) {
      await routeMessage(message);
      await stream.drain();
    },
    async publishBatch(messages) {
      await modules.forEachWithLimit(messages, 16, routeMessage);
      await stream.drain();
    },
    async redrive() {
      const result = await redriveHandler({}, lambdaContext('redrive'));
      deadLetters.splice(0);
      await stream.drain();
      return result;
    },
    async receiveAlerts() {
      const alerts: ReceivedAlert[] = [];
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: aws.alertQueueUrl, MaxNumberOfMessages: 10 }),
        );
        if (Messages.length === 0) return alerts;
        for (const message of Messages) {
          const envelope = JSON.parse(message.Body ?? '{}') as { Message?: string };
          alerts.push(JSON.parse(envelope.Message ?? message.Body ?? '{}') as ReceivedAlert);
        }
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: aws.alertQueueUrl,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
    },
    async sweep() {
      await fn.sweep({}, lambdaContext('sweep'));
    },
    async scheduleCheck(deviceId, dueAt) {
      await scheduler.scheduleCheck(deviceId, dueAt, timers.now());
    },
    async stop() {
      await checks?.stop();
      await stream.stop();
      sqs.destroy();
      streams.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The functions' modules. Handler modules read their configuration when they are imported, so the environment is
// set first and they are imported dynamically. This is the only place that writes process.env or imports a handler
// module; once builders are side-effect free, it becomes static imports of the builders.
// ---------------------------------------------------------------------------------------------------------------
async function importFunctionModules(env: Record<string, string>) {
  Object.assign(process.env, env);
  const [
    { createAppWiring },
    { createAwsClients },
    { parseConfig, parseRedriveConfig },
    presence,
    deviceMessage,
    reconcileEvents,
    settleCheck,
    sweep,
    getDevice,
    listDevices,
    listDeviceEvents,
    listAlerts,
    health,
    redrive,
    { createRedriveWiring },
    { forEachWithLimit },
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
    import('../shared/concurrency.js'),
  ]);
  return {
    forEachWithLimit,
    createAppWiring,
    createAwsClients,
    parseConfig,
    parseRedriveConfig,
    createRedriveWiring,
    buildHandlers: (ports: AppWiring) => ({
      ingestPresence: presence.buildIngestPresenceHandler(ports) as Handler,
      ingestDeviceMessage: deviceMessage.buildIngestDeviceMessageHandler(ports) as Handler,
      reconcileEvents: reconcileEvents.buildReconcileEventsHandler(ports) as Handler<
        DynamoDBStreamEvent,
        { batchItemFailures: Array<{ itemIdentifier: string }> }
      >,
      settleCheck: settleCheck.buildSettleCheckHandler(ports) as Handler<
        SQSEvent,
        { batchItemFailures: Array<{ itemIdentifier: string }> }
      >,
      sweep: sweep.buildSweepHandler(ports) as Handler,
      getDevice: getDevice.buildGetDeviceHandler(ports) as Handler,
      listDevices: listDevices.buildListDevicesHandler(ports) as Handler,
      listDeviceEvents: listDeviceEvents.buildListDeviceEventsHandler(ports) as Handler,
      listAlerts: listAlerts.buildListAlertsHandler(ports) as Handler,
      listIncidents: buildListIncidentsHandler(ports) as Handler,
      getIncident: buildGetIncidentHandler(ports) as Handler,
      fleet: buildFleetHandler(ports) as Handler,
      health: health.buildHealthHandler(ports) as Handler,
    }),
    buildRedriveHandler: (ports: Parameters<typeof redrive.buildRedriveHandler>[0]) =>
      redrive.buildRedriveHandler(ports) as Handler<unknown, RedriveResult>,
  };
}
