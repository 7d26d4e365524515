/**
 * The deployed functions on one machine, wired the way AWS wires them: the IoT topic rules invoke the ingest
 * functions asynchronously (lambda/async-invocation.ts), the events table's stream feeds the reconciler
 * (lambda/stream-mapping.ts), the devices table's stream feeds the fleet counts in tumbling windows
 * (lambda/tumbling-window-mapping.ts), the delay queue feeds the settle check (lambda/sqs-mapping.ts on the emulator, or
 * lambda/virtual-check-queue.ts in virtual time) and a schedule runs the sweep (lambda/schedule.ts).
 *
 * The functions are built here as src/functions/<name>.ts builds each of them, from the same handler builders, but
 * over one wiring whose configuration, region, credentials and endpoints come from the deployment's environment
 * (`aws.env` over the process's), handed over explicitly: nothing here writes process.env.
 */
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import type { AwsClientOptions } from '../adapters/aws-client-options.js';
import { type AwsClients, createAwsClients } from '../adapters/aws-clients.js';
import { type FaultInjector, faultsFromEnvironment, installFaults } from '../adapters/faults.js';
import { applyTopicRules, type MqttMessage, type RuleTarget } from '../adapters/iot-rules.js';
import { SqsCheckScheduler } from '../adapters/sqs-check-scheduler.js';
import { createRedriveWiring } from '../composition/redrive.js';
import { type AppWiring, createAppWiring } from '../composition-root.js';
import { type Config, parseConfig, parseRedriveConfig } from '../config.js';
import type { AnyAlert, CheckScheduler } from '../domain/ports.js';
import type { Reconciler } from '../domain/reconciler.js';
import { buildCountFleetHandler } from '../handlers/count-fleet.js';
import { buildDeviceUptimeHandler } from '../handlers/device-uptime.js';
import { buildFleetHandler } from '../handlers/fleet.js';
import { buildGetDeviceHandler } from '../handlers/get-device.js';
import { buildHealthHandler } from '../handlers/health.js';
import { buildGetIncidentHandler, buildListIncidentsHandler } from '../handlers/incidents.js';
import { buildIngestDeviceMessageHandler } from '../handlers/ingest-device-message.js';
import { buildIngestPresenceHandler } from '../handlers/ingest-presence.js';
import { buildListAlertsHandler } from '../handlers/list-alerts.js';
import { buildListDeviceEventsHandler } from '../handlers/list-device-events.js';
import { buildListDevicesHandler } from '../handlers/list-devices.js';
import { buildReconcileEventsHandler } from '../handlers/reconcile-events.js';
import { buildRedriveHandler, type RedriveResult } from '../handlers/redrive.js';
import { buildSettleCheckHandler } from '../handlers/settle-check.js';
import { buildSweepHandler } from '../handlers/sweep.js';
import { forEachWithLimit } from '../shared/concurrency.js';
import { AsyncInvocation } from './lambda/async-invocation.js';
import { AsyncThrottle, type AsyncThrottleSettings } from './lambda/async-throttle.js';
import { fleetCountMarks } from './lambda/fleet-count-marks.js';
import type { ApiHandler, DeadLetter, InvocationCounters, LambdaHandler } from './lambda/function.js';
import { scheduleEvery } from './lambda/schedule.js';
import { SqsMapping } from './lambda/sqs-mapping.js';
import { StreamMapping } from './lambda/stream-mapping.js';
import { TumblingWindowMapping } from './lambda/tumbling-window-mapping.js';
import { VirtualCheckQueue } from './lambda/virtual-check-queue.js';
import { lambdaContext } from './lambda-context.js';
import { CHECK_VISIBILITY_TIMEOUT_SECONDS, LOCAL_CREDENTIALS, type LocalAws } from './services/local-aws.js';
import { type OpenStreamSource, StreamPump } from './stream-pump.js';
import type { Timers } from './timers.js';

type Environment = Record<string, string | undefined>;

/** serverless.yml's tumblingWindowInSeconds of countFleet. */
const FLEET_COUNT_WINDOW_MS = 30_000;

/** Every alert waiting in an inbox subscribed to the topic, as received, taken off the queue. */
async function receiveAlerts(sqs: SQSClient, queueUrl: string): Promise<ReceivedAlert[]> {
  const alerts: ReceivedAlert[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    if (Messages.length === 0) return alerts;
    for (const message of Messages) {
      const envelope = JSON.parse(message.Body ?? '{}') as { Message?: string };
      alerts.push(JSON.parse(envelope.Message ?? message.Body ?? '{}') as ReceivedAlert);
    }
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

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

/** Every counter at zero: a runtime's start. */
export const newRuntimeCounters = (): RuntimeCounters => ({
  delivered: 0,
  invocations: 0,
  rejected: 0,
  unrouted: 0,
  retries: 0,
  deadLettered: 0,
});

export interface LocalRuntimeOptions {
  aws: LocalAws;
  timers: Timers;
  /**
   * Where settle checks wait: `emulator` puts them on the emulator's delay queue with the deployed SqsCheckScheduler
   * and consumes the queue like Lambda's SQS event source mapping (real time only: the emulator delays on the wall
   * clock); `virtual` (default) keeps them on `timers`, for a virtual clock.
   */
  checkQueue?: 'emulator' | 'virtual';
  /** The virtual check queue's batch size (1 by default; deployed: 10) and a hook told of each batch it delivers. */
  virtualCheckBatches?: { batchSize: number; onBatch?: (messages: number) => void };
  /** Told how long each invocation of a function took (real milliseconds): the bench's Lambda duration. */
  onInvoked?: (functionName: string, ms: number) => void;
  /** Lambda retries a failed asynchronous invocation twice, 1 and 2 minutes later. */
  asyncRetryDelaysMs?: number[];
  /** How often the scheduled sweep runs. */
  sweepEveryMs?: number;
  onDeadLetter?: (target: string, event: unknown, error: unknown) => void;
  /** Problems of the parts that run on their own (the SQS pollers). */
  onError?: (error: unknown) => void;
  /** Faults to inject in this run (else IOT_PRESENCE_FAULTS decides, in `aws.env` or else in the process's). */
  faults?: FaultInjector;
  /**
   * The fleet counts' tumbling window (serverless.yml: 30 s, the default); 0: the devices stream is not read and
   * GET /fleet counts nothing.
   */
  fleetCountWindowMs?: number;
  /** See ConnectOptions.inOrder (the replay). */
  inOrder?: boolean;
  /** Where the events stream's mapping keeps its checkpoint across runs (kept data); default: nowhere. */
  eventsStreamCheckpointFile?: string;
  /** The SDK clients' retry backoff per attempt, in real ms (default 5); a replay in virtual time waits none. */
  retryBackoffMs?: number;
}

/** Everything that runs the deployed functions on one machine: rules, stream mapping, delay queue, schedule. */
export interface LocalRuntime {
  ports: AppWiring;
  handlers: {
    getDevice: ApiHandler;
    listDevices: ApiHandler;
    listDeviceEvents: ApiHandler;
    deviceUptime: ApiHandler;
    listAlerts: ApiHandler;
    listIncidents: ApiHandler;
    getIncident: ApiHandler;
    fleet: ApiHandler;
    health: ApiHandler;
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
  /** Ends the fleet counts' current window now: GET /fleet then counts every device change made so far. */
  flushFleetCounts(): Promise<void>;
  /** Reads (and removes) the alerts that reached the queue subscribed to the topic. */
  receiveAlerts(): Promise<ReceivedAlert[]>;
  /** Queues a settle check as the deployed reconciler does (on the delay queue, or on the virtual one); returns when it arrives. */
  scheduleCheck(deviceId: string, dueAt: number): Promise<number>;
  /**
   * One run of the scheduled sweep. `timeoutMs`: its Lambda time in real milliseconds (30 s by default, as deployed);
   * the bench counts requests on a shared machine, where a sweep of many stranded alerts may take longer.
   */
  sweep(options?: { timeoutMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function createLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const { aws, timers } = options;
  // The functions' environment in this deployment, as Lambda would give it to them: read, never installed.
  const env: Environment = { ...process.env, ...aws.env };
  const config = parseConfig(env);
  const redriveConfig = parseRedriveConfig(env);
  const counters = newRuntimeCounters();
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
  let settleCheckHandler: LambdaHandler<
    SQSEvent,
    { batchItemFailures: Array<{ itemIdentifier: string }> }
  > = () => Promise.reject(new Error('the settle check ran before the runtime was ready'));
  const settleCheck: LambdaHandler<SQSEvent, { batchItemFailures: Array<{ itemIdentifier: string }> }> = (
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
          ...options.virtualCheckBatches,
        });

  // This run's faults, else those the deployment's environment names; without either, the process's (the adapters
  // read IOT_PRESENCE_FAULTS from process.env once).
  const faults =
    options.faults ?? ('IOT_PRESENCE_FAULTS' in aws.env ? faultsFromEnvironment(env) : undefined);
  if (faults) installFaults(faults);
  // Backoff in real milliseconds would stretch a virtual-time replay: retry quickly, as many times.
  const clients = deploymentClients(env, { retryBackoffMs: options.retryBackoffMs ?? 5 });
  // The deployed scheduler: a delayed message on the check queue. Its client names the emulator as its endpoint: the
  // emulator's queue URLs carry a host name (sqs.<region>.localhost) that only an explicit endpoint overrides.
  const scheduler: CheckScheduler =
    virtualChecks ?? new SqsCheckScheduler(sqs, aws.env.CHECK_QUEUE_URL as string);
  const ports = createAppWiring(config, {
    clock: { now: () => timers.now() },
    clients,
    scheduler,
  });
  const handlers = buildHandlers(
    options.inOrder ? { ...ports, reconciler: oneAtATime(ports.reconciler) } : ports,
  );
  const fn = options.onInvoked ? timedHandlers(handlers, options.onInvoked) : handlers;
  settleCheckHandler = fn.settleCheck;

  const connected = connectFunctions(fn, {
    config,
    timers,
    counters,
    deadLetters,
    events: {
      openSource: (deliver) => new StreamPump(aws.dynamoEndpoint, aws.eventsStreamArn, deliver),
      streamArn: aws.eventsStreamArn,
      onFailure: sendTo(aws.env.RECONCILE_DLQ_URL as string),
      ...(options.eventsStreamCheckpointFile ? { checkpointFile: options.eventsStreamCheckpointFile } : {}),
    },
    devices: {
      openSource: (deliver) => new StreamPump(aws.dynamoEndpoint, aws.devicesStreamArn, deliver),
      streamArn: aws.devicesStreamArn,
      windowMs: options.fleetCountWindowMs ?? FLEET_COUNT_WINDOW_MS,
      checkpoints: () => fleetCountMarks(clients.dynamo, config.DEVICES_TABLE),
    },
    onIngestFailure: sendTo(aws.env.INGEST_DLQ_URL as string),
    ...(options.asyncRetryDelaysMs ? { asyncRetryDelaysMs: options.asyncRetryDelaysMs } : {}),
    ...(options.onDeadLetter ? { onDeadLetter: options.onDeadLetter } : {}),
    sweepEveryMs: options.sweepEveryMs ?? 60_000,
    inOrder: options.inOrder ?? false,
  });
  await connected.start();
  const { stream, fleetCounts, ingest } = connected;

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

  const streams = new DynamoDBStreamsClient({
    endpoint: aws.dynamoEndpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const redriveHandler = buildRedriveHandler(
    createRedriveWiring(redriveConfig, {
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
      deviceUptime: fn.deviceUptime,
      listAlerts: fn.listAlerts,
      listIncidents: fn.listIncidents,
      getIncident: fn.getIncident,
      fleet: fn.fleet,
      health: fn.health,
    },
    counters,
    deadLetters,
    publish: connected.publish,
    publishBatch: connected.publishBatch,
    async redrive() {
      const result = await redriveHandler({}, lambdaContext('redrive'));
      deadLetters.splice(0);
      await stream.drain();
      return result;
    },
    flushFleetCounts: async () => {
      await fleetCounts?.flush();
    },
    receiveAlerts: () => receiveAlerts(sqs, aws.alertQueueUrl),
    async sweep(options = {}) {
      await fn.sweep({}, lambdaContext('sweep', options.timeoutMs));
    },
    scheduleCheck: (deviceId, dueAt) => scheduler.scheduleCheck(deviceId, dueAt, timers.now()),
    async stop() {
      await checks?.stop();
      await stream.stop();
      await fleetCounts?.stop();
      sqs.destroy();
      streams.destroy();
    },
  };
}

/** The handlers, each telling `onInvoked` how long it ran. */
function timedHandlers<H extends Record<string, (...args: never[]) => Promise<unknown>>>(
  handlers: H,
  onInvoked: (functionName: string, ms: number) => void,
): H {
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [
      name,
      async (...args: never[]) => {
        const started = performance.now();
        try {
          return await handler(...args);
        } finally {
          onInvoked(name, performance.now() - started);
        }
      },
    ]),
  ) as H;
}

/**
 * The functions' handlers over one wiring: what each src/functions/<name>.ts builds from its production wiring.
 */
function buildHandlers(
  ports: Omit<AppWiring, 'reconciler'> & { reconciler: Pick<Reconciler, 'reconcile' | 'sweep'> },
) {
  return {
    ingestPresence: buildIngestPresenceHandler(ports),
    ingestDeviceMessage: buildIngestDeviceMessageHandler(ports),
    reconcileEvents: buildReconcileEventsHandler(ports),
    countFleet: buildCountFleetHandler(ports),
    settleCheck: buildSettleCheckHandler(ports),
    sweep: buildSweepHandler(ports),
    getDevice: buildGetDeviceHandler(ports),
    listDevices: buildListDevicesHandler(ports),
    listDeviceEvents: buildListDeviceEventsHandler(ports),
    deviceUptime: buildDeviceUptimeHandler(ports),
    listAlerts: buildListAlertsHandler(ports),
    listIncidents: buildListIncidentsHandler(ports),
    getIncident: buildGetIncidentHandler(ports),
    fleet: buildFleetHandler(ports),
    health: buildHealthHandler(ports),
  };
}

/** The SDK clients of the functions of a deployment, configured from its environment (`env`). */
function deploymentClients(
  env: Environment,
  options: Pick<AwsClientOptions, 'retryBackoffMs'> = {},
): AwsClients {
  return createAwsClients({ ...sdkSettings(env), ...options });
}

/**
 * What the SDK clients of a deployed function take from its environment (region, credentials, each service's
 * endpoint), read from `env` and given to the clients as options.
 */
function sdkSettings(env: Environment): AwsClientOptions {
  const { AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = env;
  return {
    ...(AWS_REGION ? { region: AWS_REGION } : {}),
    ...(AWS_ACCESS_KEY_ID && AWS_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY } }
      : {}),
    // A service left unset keeps the SDK's own resolution.
    endpoints: {
      dynamodb: env.AWS_ENDPOINT_URL_DYNAMODB,
      sns: env.AWS_ENDPOINT_URL_SNS,
      sqs: env.AWS_ENDPOINT_URL_SQS,
    },
  };
}

/** The functions the event sources and the schedule invoke. */
export interface ConnectedFunctions {
  ingestPresence: LambdaHandler;
  ingestDeviceMessage: LambdaHandler;
  reconcileEvents: LambdaHandler<DynamoDBStreamEvent, DynamoDBBatchResponse | undefined>;
  countFleet: LambdaHandler<unknown, { state: Record<string, unknown> } | undefined>;
  sweep: LambdaHandler<Record<string, never>>;
}

export interface ConnectOptions {
  config: Config;
  timers: Timers;
  counters: RuntimeCounters;
  deadLetters: DeadLetter[];
  /** The events table's stream, read by the reconcile function; its failed batches' ranges go to `onFailure`. */
  events: {
    openSource: OpenStreamSource;
    streamArn: string;
    onFailure(record: unknown): Promise<void>;
    /** Where the mapping keeps how far it read each shard across runs (kept data). */
    checkpointFile?: string;
  };
  /** The devices table's stream, read by the counting function in tumbling windows (windowMs 0: not read). */
  devices: {
    openSource: OpenStreamSource;
    streamArn: string;
    windowMs: number;
    /** Where each shard was counted to by an earlier run (kept data): reading resumes after it. */
    checkpoints?: () => Promise<ReadonlyMap<string, string>>;
  };
  /** The ingest functions' on-failure destination. */
  onIngestFailure(record: unknown): Promise<void>;
  asyncRetryDelaysMs?: number[];
  /** Lambda's throttling of each ingest function (default: none, every invocation runs at once). */
  ingestThrottle?: AsyncThrottleSettings;
  onDeadLetter?: (target: string, event: unknown, error: unknown) => void;
  sweepEveryMs: number;
  /**
   * The messages of a batch ingested one after the other (else 16 at once): the stream then holds them in the
   * trace's order whatever the stores' latency, so that a replay decides the same on any store.
   */
  inOrder: boolean;
}

/**
 * Connects the functions as AWS does: the topic rules invoke the ingest functions asynchronously, the events
 * stream feeds the reconcile function, the devices stream the counting function in tumbling windows, and a
 * schedule runs the sweep. Used by the runtime on the emulators and by the replay's runtime on in-memory stores.
 */
export function connectFunctions(fn: ConnectedFunctions, options: ConnectOptions) {
  const { config, timers, counters, deadLetters } = options;
  const stream = new StreamMapping({
    openSource: options.events.openSource,
    streamArn: options.events.streamArn,
    functionName: 'reconcileEvents',
    handler: fn.reconcileEvents,
    counters,
    deadLetters,
    onFailureDestination: options.events.onFailure,
    now: () => timers.now(),
    ...(options.events.checkpointFile ? { checkpointFile: options.events.checkpointFile } : {}),
  });
  const fleetCounts =
    options.devices.windowMs > 0
      ? new TumblingWindowMapping({
          openSource: options.devices.openSource,
          streamArn: options.devices.streamArn,
          functionName: 'countFleet',
          handler: fn.countFleet,
          windowMs: options.devices.windowMs,
          timers,
          counters,
          deadLetters,
          ...(options.devices.checkpoints ? { checkpoints: options.devices.checkpoints } : {}),
        })
      : undefined;
  const ingest = new AsyncInvocation<RuleTarget>(
    { ingestPresence: fn.ingestPresence, ingestDeviceMessage: fn.ingestDeviceMessage },
    {
      timers,
      counters,
      deadLetters,
      retryDelaysMs: options.asyncRetryDelaysMs ?? [60_000, 120_000],
      onFailureDestination: options.onIngestFailure,
      onResult: (_target, result) => {
        if ((result as { outcome?: string } | undefined)?.outcome === 'rejected') counters.rejected += 1;
      },
      afterRetry: () => stream.drain(),
      ...(options.onDeadLetter ? { onDeadLetter: options.onDeadLetter } : {}),
    },
  );
  const topics = { willTopicFilter: config.WILL_TOPIC_FILTER, birthTopicFilter: config.BIRTH_TOPIC_FILTER };
  const throttles = new Map<RuleTarget, AsyncThrottle>();
  const throttleOf = (target: RuleTarget, settings: AsyncThrottleSettings) => {
    let throttle = throttles.get(target);
    if (!throttle) {
      throttle = new AsyncThrottle(
        settings,
        timers,
        () => stream.drain(),
        () => {
          counters.deadLettered += 1;
        },
      );
      throttles.set(target, throttle);
    }
    return throttle;
  };
  async function routeMessage(message: MqttMessage): Promise<void> {
    counters.delivered += 1;
    const invocations = applyTopicRules(message, topics);
    if (invocations.length === 0) counters.unrouted += 1;
    for (const { target, event } of invocations) {
      const settings = options.ingestThrottle;
      if (settings) await throttleOf(target, settings).invoke(() => ingest.invoke(target, event));
      else await ingest.invoke(target, event);
    }
  }
  return {
    stream,
    fleetCounts,
    ingest,
    /** What throttling did to each ingest function's deliveries (empty without `ingestThrottle`). */
    throttles,
    async start(): Promise<void> {
      await stream.start();
      await fleetCounts?.start();
      scheduleEvery(timers, options.sweepEveryMs, 'sweep', fn.sweep);
    },
    /** One MQTT message through the topic rules, the ingest function, and the stream into the reconciler. */
    async publish(message: MqttMessage): Promise<void> {
      await routeMessage(message);
      await stream.drain();
    },
    /** Messages of one stream batching window: ingested, then the stream is read once. */
    async publishBatch(messages: readonly MqttMessage[]): Promise<void> {
      if (options.inOrder) for (const message of messages) await routeMessage(message);
      else await forEachWithLimit(messages, 16, routeMessage);
      await stream.drain();
    },
  };
}

/**
 * The reconciler with one reconcile at a time, in the order they were asked for. The reconcile function reconciles
 * up to 8 devices of a batch at once; the domain tolerates any interleaving, but which device opens a fleet incident
 * depends on it, and a replay must decide the same on in-memory stores and on DynamoDB Local.
 */
export function oneAtATime<R extends Pick<Reconciler, 'reconcile' | 'sweep'>>(
  reconciler: R,
): Pick<Reconciler, 'reconcile' | 'sweep'> {
  let last: Promise<unknown> = Promise.resolve();
  return {
    reconcile: (...args) => {
      const run = last.then(() => reconciler.reconcile(...args));
      last = run.catch(() => undefined);
      return run;
    },
    sweep: (...args) => {
      const run = last.then(() => reconciler.sweep(...args));
      last = run.catch(() => undefined);
      return run;
    },
  };
}
