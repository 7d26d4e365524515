/**
 * The whole deployment on one machine, in real time: an MQTT broker that behaves like AWS IoT Core, the IoT
 * topic rules and functions (in-process), DynamoDB Local with its stream, the SNS/SQS emulator, and the HTTP API.
 * Everything listens on 127.0.0.1 only.
 */

import { join } from 'node:path';
import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DEFAULT_ASSETS_DIR, staticAssets } from '../../dashboard/server/static-assets.js';
import { decodeDeviceRecord } from '../adapters/dynamodb/device-record.js';
import { wholeNumberSetting } from '../config.js';
import { startHttpServer } from './http-server.js';
import { type BrokerPublish, type IotCoreBroker, startIotCoreBroker } from './iot-core-broker.js';
import { BROKER_STATE_FILE } from './mqtt-broker-state.js';
import { silenceEmptyMetricsWarning } from './quiet-metrics.js';
import { createLocalRuntime, type LocalRuntime, type ReceivedAlert } from './runtime.js';
import { LOCAL_CREDENTIALS, type LocalAws, startLocalAws } from './services/local-aws.js';
import { RealTimers, type Timers, tickThrough } from './timers.js';

/** The events stream mapping's checkpoint, in the data folder. */
const EVENTS_STREAM_CHECKPOINT_FILE = 'events-stream-checkpoint.json';

export interface LocalStackOptions {
  /** MQTT broker port; default 1883, 0 picks a free port. */
  mqttPort?: number;
  /** HTTP API port; default 3000, 0 picks a free port. */
  httpPort?: number;
  /** W; default: env SETTLE_WINDOW_SECONDS, else the functions' default (120). */
  settleWindowSeconds?: number;
  /** How long a client id must stay away before AWS restarts its versionNumber at 0. */
  versionResetMs?: number;
  /** How many MQTT messages are processed at once (messages of one device always in order). Default 32. */
  publishConcurrency?: number;
  /** The fleet counts' tumbling window; default 30 s, as serverless.yml's. */
  fleetCountWindowMs?: number;
  /** How often the alert queue is polled; default 500 ms. */
  alertPollMs?: number;
  onAlert?: (alert: ReceivedAlert) => void;
  log?: (line: string) => void;
  /** More settings of the functions, as environment variables (for example FLEET_OUTAGE_MIN_DEVICES). */
  env?: Record<string, string>;
  /** The built dashboard served at `/`; default dashboard/dist. */
  dashboardDir?: string;
  /**
   * Keep the data in this folder, across runs (default: in memory, nothing kept): DynamoDB Local's tables, and the
   * broker's versionNumbers, persistent sessions, retained messages and live connections (mqtt-broker-state.ts). The
   * delayed checks wait on the emulator's delay queue, which lives in this process: on a start with kept data, the
   * devices still waiting for one get it again. The connections a stop (or a crash) cut off are ended at the next
   * start: their wills and a disconnected event with SERVER_INITIATED_DISCONNECT, stamped with that start's time.
   */
  dataDir?: string;
}

export interface LocalStack {
  mqttUrl: string;
  httpUrl: string;
  mqttPort: number;
  httpPort: number;
  /** The W the functions run with. */
  settleWindowSeconds: number;
  runtime: LocalRuntime;
  broker: IotCoreBroker;
  localAws: LocalAws;
  /** Messages from the broker that have not been through the pipeline yet (queued + in flight). */
  pendingMessages(): number;
  /** Resolves once every message received so far went through ingest and the stream. */
  idle(): Promise<void>;
  /** Stops everything in order; idempotent; leaves no process or port behind. */
  stop(): Promise<void>;
}

/** Real-time timers that can be closed: no task starts after close(), and running ones can be awaited. */
class ClosableTimers implements Timers {
  private readonly real: RealTimers;
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(onError: (error: unknown) => void) {
    this.real = new RealTimers(onError);
  }

  now(): number {
    return this.real.now();
  }

  every(periodMs: number, tick: (end: number) => Promise<boolean>): void {
    tickThrough(this, periodMs, tick);
  }

  at(at: number, task: () => Promise<void>): void {
    if (this.closed) return;
    this.real.at(at, () => {
      if (this.closed) return Promise.resolve();
      const run = task().finally(() => this.running.delete(run));
      this.running.add(run);
      return run;
    });
  }

  /** Cancels every pending timer and waits (bounded) for the tasks already running. */
  async close(waitMs: number): Promise<void> {
    this.closed = true;
    this.real.cancelAll();
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

/** The device a message is about: presence events name it in the topic, wills and births are published by it. */
function deviceKeyOf(message: Pick<BrokerPublish, 'topic' | 'clientId'>): string {
  if (message.clientId) return message.clientId;
  const levels = message.topic.split('/');
  return levels[levels.length - 1] ?? message.topic;
}

/**
 * Feeds broker messages into the runtime with bounded concurrency, keeping each device's messages in the order
 * the broker saw them (the reconciler tolerates reordering, but there is no reason to add any locally).
 */
class PublishQueue {
  private readonly byKey = new Map<string, BrokerPublish[]>();
  private readonly ready: string[] = [];
  private active = 0;
  private pending = 0;
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly concurrency: number,
    private readonly process: (message: BrokerPublish) => Promise<void>,
    private readonly onError: (message: BrokerPublish, error: unknown) => void,
  ) {}

  size(): number {
    return this.pending;
  }

  push(message: BrokerPublish): void {
    if (this.closed) return;
    const key = deviceKeyOf(message);
    this.pending += 1;
    const queue = this.byKey.get(key);
    if (queue) {
      queue.push(message);
      return;
    }
    this.byKey.set(key, [message]);
    this.ready.push(key);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      this.active += 1;
      void this.runKey(key);
    }
  }

  private async runKey(key: string): Promise<void> {
    for (;;) {
      const queue = this.byKey.get(key);
      const message = queue?.[0];
      if (!queue || !message) break;
      try {
        await this.process(message);
      } catch (error) {
        this.onError(message, error);
      }
      queue.shift();
      this.pending -= 1;
      if (queue.length === 0) {
        this.byKey.delete(key);
        break;
      }
    }
    this.active -= 1;
    if (this.pending === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    }
    this.pump();
  }

  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Drops what has not started; resolves when the messages in flight are done. */
  close(): Promise<void> {
    this.closed = true;
    for (const key of this.ready.splice(0)) {
      this.pending -= this.byKey.get(key)?.length ?? 0;
      this.byKey.delete(key);
    }
    for (const queue of this.byKey.values()) {
      // Keep only the message each worker is processing now.
      this.pending -= Math.max(0, queue.length - 1);
      queue.splice(1);
    }
    return this.idle();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * The settle checks of `npm start` wait on the SNS/SQS emulator's delay queue, in memory, gone when it dies. On a start with kept data, every
 * device whose record still waits for a check (its `recheckAt`) is given one again, due at that time or at once.
 * Local only, once per start: it scans the devices table, which no deployed path does.
 */
async function requeueLostChecks(localAws: LocalAws, runtime: LocalRuntime): Promise<number> {
  const client = new DynamoDBClient({
    endpoint: localAws.dynamoEndpoint,
    region: localAws.env.AWS_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  let count = 0;
  try {
    for await (const page of paginateScan({ client }, { TableName: localAws.env.DEVICES_TABLE })) {
      for (const raw of page.Items ?? []) {
        const item = unmarshall(raw);
        const deviceId = String(item.deviceId);
        let recheckAt: number | undefined;
        try {
          recheckAt = decodeDeviceRecord(deviceId, item.record).recheckAt;
        } catch {
          continue; // An unreadable record is the reconciler's to report, on the device's next event.
        }
        if (recheckAt === undefined) continue;
        await runtime.scheduleCheck(deviceId, recheckAt);
        count += 1;
      }
    }
  } finally {
    client.destroy();
  }
  return count;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? ((line: string) => console.error(line));
  const settleWindowSeconds =
    options.settleWindowSeconds ??
    wholeNumberSetting('SETTLE_WINDOW_SECONDS', process.env.SETTLE_WINDOW_SECONDS, 1);
  // Undo what was started if a later step fails.
  const cleanups: Array<() => Promise<void>> = [];
  const unwind = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => log(`[local-stack] cleanup failed: ${describe(error)}`));
    }
  };

  const restoreConsole = silenceEmptyMetricsWarning();
  cleanups.push(async () => restoreConsole());
  try {
    const localAws = await startLocalAws({
      ...(settleWindowSeconds ? { settleWindowSeconds } : {}),
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      ...(options.env ? { extraEnv: options.env } : {}),
    });
    cleanups.push(() => localAws.stop());

    const timers = new ClosableTimers((error) =>
      log(`[local-stack] scheduled task failed: ${describe(error)}`),
    );
    const runtime = await createLocalRuntime({
      aws: localAws,
      timers,
      sweepEveryMs: 60_000,
      // The deployed settle path: SqsCheckScheduler on the emulator's delay queue, consumed as Lambda's SQS mapping does.
      checkQueue: 'emulator',
      ...(options.fleetCountWindowMs !== undefined ? { fleetCountWindowMs: options.fleetCountWindowMs } : {}),
      ...(options.dataDir !== undefined
        ? { eventsStreamCheckpointFile: join(options.dataDir, EVENTS_STREAM_CHECKPOINT_FILE) }
        : {}),
      onError: (error) => log(`[local-stack] check queue poller: ${describe(error)}`),
      onDeadLetter: (target, _event, error) =>
        log(`[local-stack] ${target} dead-lettered: ${describe(error)}`),
    }).catch(async (error: unknown) => {
      await timers.close(0);
      throw error;
    });
    // Unwound in reverse: pending timers are cancelled (and running tasks awaited) before the runtime stops.
    cleanups.push(() => runtime.stop());
    cleanups.push(() => timers.close(5_000));

    if (localAws.keptData) {
      const recovered = await requeueLostChecks(localAws, runtime);
      log(
        `[local-stack] kept data from an earlier run; ${recovered} devices waiting for a settle check get it again`,
      );
    }

    const queue = new PublishQueue(
      options.publishConcurrency ?? 32,
      (message) => runtime.publish(message),
      (message, error) => log(`[local-stack] processing ${message.topic} failed: ${describe(error)}`),
    );
    // Closed before the broker stops: the presence events of the broker's own shutdown are not processed.
    let brokerToStop: IotCoreBroker | undefined;
    cleanups.push(async () => {
      await brokerToStop?.stop();
    });
    cleanups.push(() => queue.close());

    const broker = await startIotCoreBroker({
      host: '127.0.0.1',
      port: options.mqttPort ?? 1883,
      ...(options.versionResetMs !== undefined ? { versionResetMs: options.versionResetMs } : {}),
      ...(options.dataDir !== undefined ? { stateFile: join(options.dataDir, BROKER_STATE_FILE) } : {}),
      onPublish: (message) => queue.push(message),
    });
    brokerToStop = broker;
    if (broker.endedAtStart > 0) {
      log(
        `[local-stack] ${broker.endedAtStart} MQTT connections the last run left open ended now (SERVER_INITIATED_DISCONNECT, wills published)`,
      );
    }

    const http = await startHttpServer({
      handlers: runtime.handlers,
      port: options.httpPort ?? 3000,
      log,
      redrive: () => runtime.redrive(),
      fallback: staticAssets(options.dashboardDir ?? DEFAULT_ASSETS_DIR),
    });
    cleanups.push(() => http.stop());

    // The alert watcher: what an operator subscribed to the topic would see.
    let watching = true;
    let pollTimer: NodeJS.Timeout | undefined;
    let polling: Promise<void> | undefined;
    const pollEvery = options.alertPollMs ?? 500;
    const poll = async () => {
      try {
        const alerts = await runtime.receiveAlerts();
        for (const alert of alerts) {
          try {
            options.onAlert?.(alert);
          } catch (error) {
            log(`[local-stack] onAlert failed: ${describe(error)}`);
          }
        }
      } catch (error) {
        if (watching) log(`[local-stack] reading alerts failed: ${describe(error)}`);
      }
    };
    const schedulePoll = () => {
      if (!watching) return;
      pollTimer = setTimeout(() => {
        polling = poll().finally(() => {
          polling = undefined;
          schedulePoll();
        });
      }, pollEvery);
    };
    schedulePoll();
    cleanups.push(async () => {
      watching = false;
      clearTimeout(pollTimer);
      await polling;
    });

    const stopSequence = [...cleanups];
    cleanups.length = 0;
    let stopping: Promise<void> | undefined;
    return {
      mqttUrl: broker.url,
      httpUrl: http.url,
      mqttPort: broker.port,
      httpPort: http.port,
      settleWindowSeconds: runtime.ports.config.SETTLE_WINDOW_SECONDS,
      runtime,
      broker,
      localAws,
      pendingMessages: () => queue.size(),
      idle: () => queue.idle(),
      stop() {
        // Order: alert watcher, HTTP API, message queue (drops what has not started, awaits what has), broker,
        // timers (cancelled; running tasks awaited), the runtime (check queue pollers, stream reader, SQS client), then
        // the services.
        stopping ??= (async () => {
          for (const step of stopSequence.reverse()) {
            await step().catch((error: unknown) => log(`[local-stack] stopping failed: ${describe(error)}`));
          }
        })();
        return stopping;
      },
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}
