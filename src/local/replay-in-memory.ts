/**
 * The deployed functions over in-memory stores, for the replay: the same handlers, built by the same builders, on
 * the same reconciler (composition/reconciler.ts's buildReconciler), connected as AWS connects them (runtime.ts's
 * connectFunctions: asynchronous ingest with its retries, the events stream in batches, the devices stream in
 * tumbling windows, the scheduled sweep), with the delayed checks on the virtual clock. What changes is where the
 * ports keep their data: in this process (in-memory-ports.ts) instead of DynamoDB, SNS and SQS. No SDK client is
 * built and nothing listens on a port. Injected faults strike the ports where the SDK clients would (port-faults.ts).
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { HmacCursorCodec } from '../adapters/cursor-codec.js';
import { FaultInjector, installFaults, NO_FAULTS } from '../adapters/faults.js';
import type { MqttMessage } from '../adapters/iot-rules.js';
import { buildReconciler } from '../composition/reconciler.js';
import { fleetRuleFrom, parseConfig, settingsFrom } from '../config.js';
import { buildCountFleetHandler } from '../handlers/count-fleet.js';
import { buildFleetHandler } from '../handlers/fleet.js';
import { buildIngestDeviceMessageHandler } from '../handlers/ingest-device-message.js';
import { buildIngestPresenceHandler } from '../handlers/ingest-presence.js';
import { buildListDevicesHandler } from '../handlers/list-devices.js';
import { buildReconcileEventsHandler } from '../handlers/reconcile-events.js';
import { buildSettleCheckHandler } from '../handlers/settle-check.js';
import { buildSweepHandler } from '../handlers/sweep.js';
import { InMemoryFleetIncidentStore } from './in-memory-fleet.js';
import {
  InMemoryAlertHistory,
  InMemoryAlertTopic,
  InMemoryDeviceStore,
  InMemoryEventLog,
  InMemoryFleetCounters,
  InMemoryRejections,
  InMemoryStream,
  InMemoryUptimeDays,
  WriteAccounting,
} from './in-memory-ports.js';
import type { AsyncThrottleSettings, ThrottleFigures } from './lambda/async-throttle.js';
import type { ApiHandler, DeadLetter } from './lambda/function.js';
import { VirtualCheckQueue } from './lambda/virtual-check-queue.js';
import { type InjectedFaultCounts, PortFaults } from './port-faults.js';
import {
  connectFunctions,
  newRuntimeCounters,
  oneAtATime,
  type ReceivedAlert,
  type RuntimeCounters,
} from './runtime.js';
import type { Timers } from './timers.js';

/** What the replay drives and reads of a runtime, on in-memory stores or on the emulators. */
export interface ReplayRuntime {
  publishBatch(messages: readonly MqttMessage[]): Promise<void>;
  handlers: { listDevices: ApiHandler; fleet: ApiHandler };
  counters: RuntimeCounters;
  /** Whether any outbox still holds an alert. */
  hasUnsent(): Promise<boolean>;
  /** Ends the fleet counts' current window now. */
  flushFleetCounts(): Promise<void>;
  receiveAlerts(): Promise<ReceivedAlert[]>;
  stop(): Promise<void>;
}

export interface InMemoryRuntime extends ReplayRuntime {
  /** The writes counted per key and second of virtual time, when `accountWrites` asked for them. */
  writes?: WriteAccounting;
  /** What Lambda's throttling did to each ingest function's deliveries (empty when not throttled). */
  throttles(): Map<string, ThrottleFigures>;
  /** What the injected faults did so far. */
  faultCounts(): InjectedFaultCounts;
}

/** The names the functions' configuration requires; nothing is behind them. */
const IN_MEMORY_ENV = {
  EVENTS_TABLE: 'in-memory-events',
  DEVICES_TABLE: 'in-memory-devices',
  ALERTS_TABLE: 'in-memory-alerts',
  REJECTED_TABLE: 'in-memory-rejected',
  UPTIME_TABLE: 'in-memory-uptime',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:in-memory-alerts',
  CHECK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/in-memory-checks',
  CURSOR_SIGNING_KEY: 'in-memory-replay-cursor-key',
};

/** serverless.yml's tumblingWindowInSeconds of countFleet. */
const FLEET_COUNT_WINDOW_MS = 30_000;

export interface InMemoryRuntimeOptions {
  timers: Timers;
  /** How often the scheduled sweep runs. */
  sweepEveryMs: number;
  /** The functions' settings (ALERT_ON, SETTLE_WINDOW_SECONDS, FLEET_*): the process's environment by default. */
  env?: Record<string, string | undefined>;
  /** Lambda's throttling of each ingest function (default: none). */
  ingestThrottle?: AsyncThrottleSettings;
  /** Count every write per item and partition key, per second of virtual time (the scale benches' hot keys). */
  accountWrites?: boolean;
  /**
   * Faults to inject (default: none): DynamoDB and SNS faults strike the functions' calls of the ports that stand for
   * them; crashes strike the functions, through the process's injector (installed here, as the local runtime does).
   */
  faults?: FaultInjector;
}

export function createInMemoryRuntime(options: InMemoryRuntimeOptions): InMemoryRuntime {
  const { timers } = options;
  const config = parseConfig({ ...(options.env ?? process.env), ...IN_MEMORY_ENV });
  const clock = { now: () => timers.now() };
  const settings = settingsFrom(config);
  const counters = newRuntimeCounters();
  const deadLetters: DeadLetter[] = [];
  const writes = options.accountWrites ? new WriteAccounting() : undefined;
  const injector = options.faults ?? new FaultInjector(NO_FAULTS);
  installFaults(injector);
  // The functions reach DynamoDB and SNS through `faults`; the runtime's own looks (the outbox, the inbox) do not.
  const faults = new PortFaults(injector);
  const eventsStream = new InMemoryStream();
  const devicesStream = new InMemoryStream();
  const devices = new InMemoryDeviceStore({ settings, stream: devicesStream, writes });
  const eventLog = new InMemoryEventLog({ ttlDays: config.EVENT_TTL_DAYS, stream: eventsStream, writes });
  const rejections = new InMemoryRejections();
  const topic = new InMemoryAlertTopic();
  const incidents = new InMemoryFleetIncidentStore(writes && { writes, now: () => timers.now() });
  const counts = new InMemoryFleetCounters();
  const checks = new VirtualCheckQueue({
    timers,
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:in-memory-checks',
    functionName: 'settleCheck',
    handler: (event, context) => settleCheck(event, context),
    counters,
    // infra/resources.yml's visibility timeout of the check queue.
    visibilityTimeoutMs: 180_000,
  });
  const tables = {
    devices: faults.dynamodb(devices),
    incidents: faults.dynamodb(incidents),
    counts: faults.dynamodb(counts),
  };
  const reconciler = oneAtATime(
    buildReconciler({
      devices: tables.devices,
      events: faults.dynamodb(eventLog),
      ledger: faults.dynamodb(new InMemoryAlertHistory()),
      publisher: faults.sns(topic),
      incidents: tables.incidents,
      scheduler: checks,
      uptimeDays: faults.dynamodb(new InMemoryUptimeDays()),
      clock,
      settings,
      rule: fleetRuleFrom(config),
    }),
  );
  const wiring = {
    config,
    clock,
    eventLog: faults.dynamodb(eventLog),
    rejections: faults.dynamodb(rejections),
    reconciler,
    counts: tables.counts,
  };
  const settleCheck = buildSettleCheckHandler(wiring);
  const handlers = {
    listDevices: buildListDevicesHandler({
      devices: tables.devices,
      cursors: new HmacCursorCodec(config.CURSOR_SIGNING_KEY),
      clock,
    }),
    fleet: buildFleetHandler({ fleet: tables.counts, incidents: tables.incidents }),
  };
  const kept = async () => undefined;
  const connected = connectFunctions(
    {
      ingestPresence: buildIngestPresenceHandler(wiring),
      ingestDeviceMessage: buildIngestDeviceMessageHandler(wiring),
      reconcileEvents: buildReconcileEventsHandler(wiring),
      countFleet: buildCountFleetHandler(wiring),
      sweep: buildSweepHandler(wiring),
    },
    {
      config,
      timers,
      counters,
      deadLetters,
      // The dead letters are counted (counters.deadLettered) and kept in `deadLetters`: no queue behind them.
      events: {
        openSource: (deliver) => eventsStream.reader(deliver),
        streamArn: 'in-memory-events',
        onFailure: kept,
      },
      devices: {
        openSource: (deliver) => devicesStream.reader(deliver),
        streamArn: 'in-memory-devices',
        windowMs: FLEET_COUNT_WINDOW_MS,
      },
      onIngestFailure: kept,
      sweepEveryMs: options.sweepEveryMs,
      inOrder: true,
      ...(options.ingestThrottle ? { ingestThrottle: options.ingestThrottle } : {}),
    },
  );
  const started = connected.start();
  return {
    handlers,
    counters,
    ...(writes ? { writes } : {}),
    throttles: () =>
      new Map([...connected.throttles].map(([target, throttle]) => [target, { ...throttle.figures }])),
    faultCounts: () => faults.counts(),
    async publishBatch(messages) {
      await started;
      await connected.publishBatch(messages);
    },
    hasUnsent: () => devices.hasUnsent(),
    flushFleetCounts: async () => {
      await connected.fleetCounts?.flush();
    },
    receiveAlerts: async () => topic.receive(),
    async stop() {
      await started;
      await connected.stream.stop();
      await connected.fleetCounts?.stop();
    },
  };
}

/** An HTTP API request as the handlers read it: only the query string. */
export function apiRequest(query: Record<string, string>): APIGatewayProxyEventV2 {
  return { queryStringParameters: query } as Partial<APIGatewayProxyEventV2> as APIGatewayProxyEventV2;
}
