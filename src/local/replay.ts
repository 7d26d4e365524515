import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { FaultInjector, parseFaultSpec } from '../adapters/faults.js';
import * as z from '../shared/zod.js';
import { silenceEmptyMetricsWarning } from './quiet-metrics.js';
import { placeFleetIncidents } from './replay-fleet.js';
import { countRequests, type RequestCounts } from './request-counter.js';
import { createLocalRuntime, type LocalRuntime, type ReceivedAlert } from './runtime.js';
import { type LocalAws, startLocalAws, type TransferableDeployment } from './services/local-aws.js';
import { VirtualTimers } from './timers.js';

/** One line of a trace: an MQTT message as the rules engine delivers it. */
const traceLineSchema = z.object({
  at: z.int().check(z.gte(0)),
  topic: z.string().check(z.minLength(1)),
  payload: z.unknown(),
  clientId: z.optional(z.string()),
});

type TraceLine = z.infer<typeof traceLineSchema>;

/** A trace line as driveTrace takes it: when the rule delivers it, and what. */
export interface DeliveredLine {
  at: number;
  topic: string;
  payload?: unknown;
  clientId?: string;
}

/**
 * Feeds trace lines to a runtime in virtual time: each check falls due before the lines after it, and lines inside
 * one stream batching window are ingested together and read from the stream once, as the deployed mapping does.
 */
export async function driveTrace(
  runtime: Pick<LocalRuntime, 'publishBatch'>,
  timers: VirtualTimers,
  lines: readonly DeliveredLine[],
): Promise<void> {
  for (let index = 0; index < lines.length; ) {
    const first = lines[index] as DeliveredLine;
    await timers.advanceTo(first.at);
    // One stream batching window, cut short by any check that falls due inside it.
    const windowEnd = Math.min(first.at + STREAM_BATCH_WINDOW_MS, timers.nextForegroundDue() ?? Infinity);
    const batch: DeliveredLine[] = [];
    while (index < lines.length && (batch.length === 0 || (lines[index] as DeliveredLine).at < windowEnd)) {
      batch.push(lines[index] as DeliveredLine);
      index += 1;
    }
    const messages = batch.map((line) => ({
      topic: line.topic,
      payload: Buffer.from(
        typeof line.payload === 'string' ? line.payload : JSON.stringify(line.payload ?? null),
      ),
      clientId: line.clientId ?? null,
      receivedAt: Math.max(line.at, timers.now()),
    }));
    await timers.advanceTo((batch[batch.length - 1] as DeliveredLine).at);
    await runtime.publishBatch(messages);
  }
}

/** serverless.yml gives the stream mapping a 1 s batching window; the replay batches the same way. */
const STREAM_BATCH_WINDOW_MS = 1_000;

export interface ReplayedDevice {
  deviceId: string;
  status: string;
  sessionIdentifier: string;
  settled: boolean;
  since: number | null;
  disconnectReason: string | null;
  [field: string]: unknown;
}

export interface ReplayedAlert {
  alertId: string;
  type: ReceivedAlert['type'];
  deviceId: string;
  sessionIdentifier: string;
  disconnectReason: string | null;
  publishedAt: number;
  since: number;
  [field: string]: unknown;
}

export interface ReplayResult {
  devices: ReplayedDevice[];
  alerts: ReplayedAlert[];
  rejected: number;
  retries: number;
  deadLettered: number;
  lines: number;
  requests?: RequestCounts;
}

export interface ReplayOptions {
  faults?: FaultInjector;
  /** Count the SDK requests the functions send (service.command -> count) into the result. */
  countRequests?: boolean;
  /** How many groups of devices run at once, each in a deployment of its own (default 4). */
  groups?: number;
  /**
   * Where the tables live: `in-process` (the default) is DynamoDB in this process (services/in-process-dynamodb),
   * `dynamodb-local` the jar over HTTP. A run that injects DynamoDB faults uses DynamoDB Local whatever this says:
   * the faults are thrown inside the SDK's retry loop, which the in-process DynamoDB answers before.
   */
  store?: ReplayStore;
  /** How many threads the groups are dealt over (default: one per core, with the in-process store and no faults). */
  threads?: number;
}

export type ReplayStore = 'in-process' | 'dynamodb-local';

/**
 * The deployed schedule is rate(1 minute). Without injected faults the sweep never finds work (every check fires on
 * time and SNS accepts every alert), so the replay runs it every hour of virtual time in each group of devices: the
 * path is still exercised, at a sixtieth of the cost of its index queries every minute.
 */
const SWEEP_EVERY_MS = 60_000;
const IDLE_SWEEP_EVERY_MS = 3_600_000;
/** A bound on how long the replay keeps retrying alerts SNS refuses: an hour of virtual time. */
const MAX_FINAL_SWEEPS = 60;

const toEpoch = (iso: unknown) => (typeof iso === 'string' ? Date.parse(iso) : null);

/** How many groups of devices the replay runs at once when not told (`IOT_PRESENCE_REPLAY_GROUPS` overrides). */
const DEFAULT_GROUPS = 4;

/** The device a line is about: presence events name it in the topic, wills and births are published by it. */
function deviceOf(line: TraceLine): string {
  if (line.clientId) return line.clientId;
  const levels = line.topic.split('/');
  return levels[levels.length - 1] ?? line.topic;
}

/**
 * Splits the lines into `count` groups of whole devices, of about as many lines each, keeping the order of the
 * lines within each group. Devices share no state but fleet incidents (a device's record, events, alerts and checks
 * are its own), so each group can run in a deployment of its own at the same time as the others; fleet incidents are
 * placed afterwards, over every group's alerts (replay-fleet.ts).
 */
export function groupByDevice(lines: readonly TraceLine[], count: number): TraceLine[][] {
  const perDevice = new Map<string, number>();
  for (const line of lines) perDevice.set(deviceOf(line), (perDevice.get(deviceOf(line)) ?? 0) + 1);
  const sizes = Array.from({ length: Math.max(1, count) }, () => 0);
  const groupOf = new Map<string, number>();
  // Largest devices first, each to the lightest group: deterministic, and close to even.
  const devices = [...perDevice].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (const [device, size] of devices) {
    const lightest = sizes.indexOf(Math.min(...sizes));
    groupOf.set(device, lightest);
    sizes[lightest] = (sizes[lightest] ?? 0) + size;
  }
  const groups = sizes.map((): TraceLine[] => []);
  for (const line of lines) groups[groupOf.get(deviceOf(line)) ?? 0]?.push(line);
  return groups.filter((group) => group.length > 0);
}

export interface GroupResult {
  devices: ReplayedDevice[];
  alerts: ReplayedAlert[];
  rejected: number;
  retries: number;
  deadLettered: number;
  requests?: RequestCounts;
}

/**
 * Replays a trace through the whole pipeline in virtual time: the same rule projection and handlers as the
 * deployment, against DynamoDB Local and the SNS/SQS emulator, with delayed checks on a virtual clock. The devices
 * are split into groups that run at once, each in a deployment of its own (its own tables, topic and queues in the
 * same services, its own virtual clock): each device's lines are delivered in order, in the same batching windows.
 */
export async function replayTrace(
  lines: readonly string[],
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const parsed = lines
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      try {
        const result = traceLineSchema.safeParse(JSON.parse(line));
        return result.success ? result.data : undefined;
      } catch {
        return undefined;
      }
    });
  const firstAt = parsed.find((line) => line !== undefined)?.at ?? 0;
  const badLines = parsed.filter((line) => line === undefined).length;
  const valid = parsed.filter((line): line is TraceLine => line !== undefined);
  const groups = groupByDevice(valid, options.groups ?? groupsFromEnv() ?? DEFAULT_GROUPS);
  const restoreConsole = silenceEmptyMetricsWarning();
  const aws = await startLocalAws({ prefix: 'replay', dynamodb: storeFor(options) }).catch(
    (error: unknown) => {
      restoreConsole();
      throw error;
    },
  );
  try {
    const deployments = [aws];
    for (let i = 1; i < groups.length; i += 1) deployments.push(await aws.provision(`replay-${i}`));
    const planned = (groups.length > 0 ? groups : [[]]).map((group, index) => ({
      deployment: deployments[index] ?? aws,
      lines: group,
    }));
    const threads = threadsFor(options, planned.length);
    const results =
      threads > 1
        ? await runInWorkerThreads(planned, threads, firstAt, options)
        : await runInThisThread(planned, firstAt, options);
    const requests = options.countRequests ? mergeCounts(results.map((r) => r.requests ?? {})) : undefined;
    // No group saw the whole fleet: its incidents are decided over every group's alerts at once.
    const deviceAlerts = results.flatMap((r) => r.alerts);
    const fleet = await placeFleetIncidents(aws, deviceAlerts);
    const alerts: ReplayedAlert[] = [
      ...deviceAlerts.map((alert) => {
        const incidentId = fleet.incidentOf.get(alert.alertId);
        return incidentId === undefined ? alert : { ...alert, incidentId };
      }),
      ...fleet.fleetAlerts.map(asReplayed),
    ];
    return {
      devices: results.flatMap((r) => r.devices).sort((a, b) => a.deviceId.localeCompare(b.deviceId)),
      alerts: alerts.sort((a, b) => a.publishedAt - b.publishedAt || a.alertId.localeCompare(b.alertId)),
      rejected: badLines + results.reduce((sum, r) => sum + r.rejected, 0),
      retries: results.reduce((sum, r) => sum + r.retries, 0),
      deadLettered: results.reduce((sum, r) => sum + r.deadLettered, 0),
      lines: parsed.length,
      ...(requests ? { requests } : {}),
    };
  } finally {
    await aws.stop();
    restoreConsole();
  }
}

/** Runtimes are made one after the other, then run together. */
async function runInThisThread(
  planned: ReadonlyArray<{ deployment: LocalAws; lines: TraceLine[] }>,
  firstAt: number,
  options: ReplayOptions,
): Promise<GroupResult[]> {
  const prepared: PreparedGroup[] = [];
  try {
    for (const { deployment, lines } of planned)
      prepared.push(await prepareGroup(deployment, lines, firstAt, options));
  } catch (error) {
    await Promise.allSettled(prepared.map((group) => group.stop()));
    throw error;
  }
  // Every group finishes (and stops its runtime) before the services stop, even when one of them failed.
  const settled = await Promise.allSettled(prepared.map((group) => group.run()));
  const failure = settled.find((outcome) => outcome.status === 'rejected');
  if (failure) throw failure.reason;
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<GroupResult>).value);
}

/**
 * How many threads the groups run on: one per core when every group's DynamoDB can be rebuilt in another thread
 * (the in-process store) and no fault injector has to be shared (its seeded random sequence lives in this thread).
 */
function threadsFor(options: ReplayOptions, groups: number): number {
  if (options.threads !== undefined) return Math.max(1, Math.min(options.threads, groups));
  const faults = (options.faults ?? new FaultInjector(parseFaultSpec(process.env.IOT_PRESENCE_FAULTS)))
    .active;
  if (faults || storeFor(options) !== 'in-process') return 1;
  return Math.min(availableParallelism(), groups);
}

/** The groups dealt over `threads` worker threads (replay-worker.ts), each running its share at once. */
async function runInWorkerThreads(
  planned: ReadonlyArray<{ deployment: LocalAws; lines: TraceLine[] }>,
  threads: number,
  firstAt: number,
  options: ReplayOptions,
): Promise<GroupResult[]> {
  const shares = Array.from({ length: threads }, (): WorkerJob['groups'] => []);
  for (const [index, { deployment, lines }] of planned.entries())
    shares[index % threads]?.push({ deployment: deployment.transferable(), lines });
  const replies = await Promise.all(
    shares.map(
      (groups) =>
        new Promise<GroupResult[]>((resolve, reject) => {
          const job: WorkerJob = {
            groups,
            firstAt,
            options: options.countRequests ? { countRequests: true } : {},
          };
          const worker = new Worker(typeScriptWorker(new URL('./replay-worker.ts', import.meta.url)), {
            eval: true,
            workerData: job,
          });
          worker.once('message', (reply: WorkerReply) => {
            if ('error' in reply) reject(new Error(`a replay worker failed: ${reply.error}`));
            else resolve(reply.results);
          });
          worker.once('error', reject);
          worker.once('exit', (code) =>
            reject(new Error(`a replay worker exited (${code}) before it answered`)),
          );
        }),
    ),
  );
  return replies.flat();
}

/**
 * The code of a worker that runs a TypeScript module: the replay is TypeScript run by tsx (npm run replay, the bench)
 * or by vitest, and a worker thread inherits neither's loader, so it registers tsx's own before importing.
 */
function typeScriptWorker(module: URL): string {
  return `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); });`;
}

/** An alert as received from the topic, its times as epoch ms. */
function asReplayed(alert: ReceivedAlert): ReplayedAlert {
  return { ...alert, publishedAt: toEpoch(alert.publishedAt) ?? 0, since: toEpoch(alert.since) ?? 0 };
}

/** The DynamoDB the replay runs on: see ReplayOptions.store. */
export function storeFor(options: ReplayOptions): 'in-process' | 'local' {
  const rates = options.faults?.rates ?? parseFaultSpec(process.env.IOT_PRESENCE_FAULTS);
  const dynamoDbFaults = rates.dynamodb > 0;
  if (dynamoDbFaults) return 'local';
  return (options.store ?? 'in-process') === 'in-process' ? 'in-process' : 'local';
}

function groupsFromEnv(): number | undefined {
  const raw = process.env.IOT_PRESENCE_REPLAY_GROUPS;
  const value = raw ? Number(raw) : Number.NaN;
  return Number.isInteger(value) && value >= 1 ? value : undefined;
}

function mergeCounts(all: readonly RequestCounts[]): RequestCounts {
  const merged: RequestCounts = {};
  for (const counts of all)
    for (const [key, n] of Object.entries(counts)) merged[key] = (merged[key] ?? 0) + n;
  return merged;
}

/** What a group's run takes of the replay's options (a worker thread gets them as data: no fault injector). */
type GroupOptions = Pick<ReplayOptions, 'faults' | 'countRequests'>;

/** The work of one worker thread, and its answer. */
export interface WorkerJob {
  groups: Array<{ deployment: TransferableDeployment; lines: TraceLine[] }>;
  firstAt: number;
  options: Pick<ReplayOptions, 'countRequests'>;
}

export type WorkerReply = { results: GroupResult[] } | { error: string };

interface PreparedGroup {
  /** Replays the group's lines, reads the result and stops the runtime. */
  run(): Promise<GroupResult>;
  /** Stops the runtime of a group that will not run. */
  stop(): Promise<void>;
}

/** Makes one group's runtime on its deployment. */
export async function prepareGroup(
  aws: LocalAws,
  lines: readonly TraceLine[],
  firstAt: number,
  options: GroupOptions,
): Promise<PreparedGroup> {
  const timers = new VirtualTimers(firstAt);
  const runtime = await createLocalRuntime({
    aws,
    timers,
    placeFleetIncidents: false,
    // The replay reads no fleet counts: the devices stream is left unread.
    fleetCountWindowMs: 0,
    sweepEveryMs:
      options.faults?.active || process.env.IOT_PRESENCE_FAULTS ? SWEEP_EVERY_MS : IDLE_SWEEP_EVERY_MS,
    ...(options.faults ? { faults: options.faults } : {}),
  });
  const requests = options.countRequests ? countRequests(runtime.ports.clients) : undefined;
  const run = async (): Promise<GroupResult> => {
    try {
      await driveTrace(runtime, timers, lines);
      await timers.runUntilIdle();
      // Nothing is pending until the outbox is empty too: let the sweep retry what SNS refused.
      // The driver's own look goes through the functions' client, faults included: ask again rather than fail.
      const stillUnsent = async () => {
        for (let attempt = 1; attempt < 5; attempt += 1) {
          try {
            return await runtime.ports.devices.hasUnsent();
          } catch {
            // An injected or transient fault: the next attempt decides.
          }
        }
        return true;
      };
      for (let sweeps = 0; sweeps < MAX_FINAL_SWEEPS && (await stillUnsent()); sweeps += 1) {
        await timers.advanceTo(timers.now() + SWEEP_EVERY_MS);
        await timers.runUntilIdle();
      }
      const alerts = (await runtime.receiveAlerts()).map(asReplayed);
      return {
        devices: await listAllDevices(runtime.handlers.listDevices),
        alerts,
        rejected: runtime.counters.rejected + runtime.counters.unrouted,
        retries: runtime.counters.retries,
        deadLettered: runtime.counters.deadLettered,
        ...(requests ? { requests } : {}),
      };
    } finally {
      await runtime.stop();
    }
  };
  return { run, stop: () => runtime.stop() };
}

/**
 * One page of devices. The replay's own reads go through the functions' client, faults included: a page an injected
 * fault failed is asked for again, as a client of the API would.
 */
async function readPage(listDevices: LocalRuntime['handlers']['listDevices'], event: APIGatewayProxyEventV2) {
  for (let attempt = 1; ; attempt += 1) {
    const response = (await listDevices(event, {} as never)) as { statusCode: number; body: string };
    if (response.statusCode === 200) {
      return JSON.parse(response.body) as { items: Array<Record<string, unknown>>; cursor: string | null };
    }
    if (attempt === 10) throw new Error(`listing the devices failed ${attempt} times: ${response.body}`);
  }
}

/** Reads every device through the HTTP handler, both statuses, following cursors. */
async function listAllDevices(listDevices: LocalRuntime['handlers']['listDevices']) {
  const devices: ReplayedDevice[] = [];
  for (const status of ['connected', 'disconnected']) {
    let cursor: string | undefined;
    do {
      // The handler reads nothing of the request but its query string.
      const event: Partial<APIGatewayProxyEventV2> = {
        queryStringParameters: { status, limit: '100', ...(cursor ? { cursor } : {}) },
      };
      const body = await readPage(listDevices, event as APIGatewayProxyEventV2);
      for (const item of body.items) {
        devices.push({ ...(item as unknown as ReplayedDevice), since: toEpoch(item.since) });
      }
      cursor = body.cursor ?? undefined;
    } while (cursor);
  }
  return devices.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}
