import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { FaultInjector, parseFaultSpec } from '../adapters/faults.js';
import * as z from '../shared/zod.js';
import { silenceEmptyMetricsWarning } from './quiet-metrics.js';
import { placeFleetIncidents } from './replay-fleet.js';
import {
  asReplayed,
  type GroupResult,
  type PreparedGroup,
  prepareGroup,
  type ReplayedAlert,
  type ReplayedDevice,
  type TraceLine,
  type WorkerJob,
  type WorkerReply,
} from './replay-group.js';
import type { RequestCounts } from './request-counter.js';
import { type LocalAws, startLocalAws } from './services/local-aws.js';

/** One line of a trace: an MQTT message as the rules engine delivers it. */
const traceLineSchema = z.object({
  at: z.int().check(z.gte(0)),
  topic: z.string().check(z.minLength(1)),
  payload: z.unknown(),
  clientId: z.optional(z.string()),
});

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

type ReplayStore = 'in-process' | 'dynamodb-local';

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

/**
 * Replays a trace through the whole pipeline in virtual time: the same rule projection and handlers as the
 * deployment, against DynamoDB (in this process by default, see ReplayOptions.store) and the SNS/SQS emulator, with
 * delayed checks on a virtual clock. The devices are split into groups that run at once, each in a deployment of its
 * own (its own tables, topic and queues, its own virtual clock), in worker threads when they can: each device's lines
 * are delivered in order, in the same batching windows.
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
  const worker = await bundleWorker();
  const started: Worker[] = [];
  try {
    const replies = await Promise.all(
      shares.map(
        (groups) =>
          new Promise<GroupResult[]>((resolve, reject) => {
            const job: WorkerJob = {
              groups,
              firstAt,
              options: options.countRequests ? { countRequests: true } : {},
            };
            const thread = new Worker(worker, { workerData: job });
            started.push(thread);
            thread.once('message', (reply: WorkerReply) => {
              if ('error' in reply) reject(new Error(`a replay worker failed: ${reply.error}`));
              else resolve(reply.results);
            });
            thread.once('error', reject);
            thread.once('exit', (code) =>
              reject(new Error(`a replay worker exited (${code}) before it answered`)),
            );
          }),
      ),
    );
    return replies.flat();
  } finally {
    // A failed worker leaves the others nothing to finish: none may outlive the emulator it talks to.
    await Promise.all(started.map((thread) => thread.terminate()));
    await rm(worker, { force: true });
  }
}

/**
 * The worker thread's module (replay-worker.ts and the source it imports) bundled into one JavaScript file: a worker
 * inherits no TypeScript loader, and one file starts in about 0.7 s of CPU where the sources through tsx's hooks take
 * about 2 s. It is written under node_modules/.cache so that the packages it leaves out resolve from the project.
 */
async function bundleWorker(): Promise<string> {
  const folder = fileURLToPath(new URL('../../node_modules/.cache/iot-presence/', import.meta.url));
  await mkdir(folder, { recursive: true });
  await removeStaleBundles(folder);
  const outfile = join(folder, `replay-worker-${process.pid}-${randomUUID()}.mjs`);
  await build({
    entryPoints: [fileURLToPath(new URL('./replay-worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

/** Bundles a replay killed before its clean-up left behind (a running replay's is minutes old at most). */
async function removeStaleBundles(folder: string): Promise<void> {
  const dayAgo = Date.now() - 86_400_000;
  for (const name of await readdir(folder)) {
    if (!name.startsWith('replay-worker-')) continue;
    const path = join(folder, name);
    const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: Date.now() }));
    if (mtimeMs < dayAgo) await rm(path, { force: true });
  }
}

/** The DynamoDB the replay runs on: see ReplayOptions.store. */
function storeFor(options: ReplayOptions): 'in-process' | 'local' {
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
