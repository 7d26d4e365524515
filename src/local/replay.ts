import {
  environmentFaults,
  type FaultInjector,
  faultsFromEnvironment,
  installFaults,
} from '../adapters/faults.js';
import * as z from '../shared/zod.js';
import { snapshotEnvironment } from './environment-snapshot.js';
import type { WriteAccounting } from './in-memory-ports.js';
import type { AsyncThrottleSettings, ThrottleFigures } from './lambda/async-throttle.js';
import type { InjectedFaultCounts } from './port-faults.js';
import { silenceEmptyMetricsWarning } from './quiet-metrics.js';
import { type RunResult, runTrace, type TraceLine } from './replay-group.js';
import { createInMemoryRuntime } from './replay-in-memory.js';
import { countRequests, type RequestCounts } from './request-counter.js';
import { createLocalRuntime } from './runtime.js';
import { startLocalAws } from './services/local-aws.js';
import { VirtualTimers } from './timers.js';

/** One line of a trace: an MQTT message as the rules engine delivers it. */
const traceLineSchema = z.object({
  at: z.int().check(z.gte(0)),
  topic: z.string().check(z.minLength(1)),
  payload: z.unknown(),
  clientId: z.optional(z.string()),
});

export interface ReplayResult extends RunResult {
  lines: number;
  /** Which path ran: the in-memory ports, or the real adapters on DynamoDB Local and the SNS/SQS emulator. */
  mode: ReplayMode;
  requests?: RequestCounts;
  /** In-memory runs with `accountWrites`: the hottest key and transaction item, per second of virtual time. */
  writes?: {
    hottestKey: { key: string; perSecond: number };
    hottestTransactionItem: { key: string; perSecond: number };
  };
  /** In-memory runs with `ingestThrottle`: what throttling did to each ingest function's deliveries. */
  throttles?: Record<string, ThrottleFigures>;
  /** Runs with injected faults: how many struck, by kind (in memory, with the SDK retries they cost). */
  faults?: InjectedFaultCounts;
}

type ReplayMode = 'in-memory' | 'fidelity';

export interface ReplayOptions {
  /** Run the real adapters on DynamoDB Local and the SNS/SQS emulator (default: the in-memory ports). */
  fidelity?: boolean;
  /**
   * Faults to inject (else IOT_PRESENCE_FAULTS decides): at the in-memory ports (port-faults.ts), or with `fidelity`
   * in the SDK clients; crashes of invocations in the functions, on both paths.
   */
  faults?: FaultInjector;
  /** Count the SDK requests the functions send (service.command -> count): the fidelity path's. */
  countRequests?: boolean;
  /** Hears how many lines are done, after each stream batch. */
  onProgress?: (linesDone: number, lines: number) => void;
  /** Where a change of mode is told (default: stderr). */
  notice?: (line: string) => void;
  /** In-memory runs: Lambda's throttling of the ingest functions (default: none). */
  ingestThrottle?: AsyncThrottleSettings;
  /** In-memory runs: count writes per key and second of virtual time, for `writes` (its cost: a map entry per write). */
  accountWrites?: boolean;
}

/**
 * The deployed schedule is rate(1 minute). Without injected faults the sweep never finds work (every check fires on
 * time and SNS accepts every alert), so the replay runs it every hour of virtual time: the path is still exercised,
 * at a sixtieth of the cost.
 */
const SWEEP_EVERY_MS = 60_000;
const IDLE_SWEEP_EVERY_MS = 3_600_000;

/** Parses the lines of a trace; a line that is not one is counted as rejected. */
function parseTrace(lines: readonly string[]): { valid: TraceLine[]; bad: number; total: number } {
  const parsed = lines
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      try {
        const result = traceLineSchema.safeParse(JSON.parse(line));
        if (!result.success) return undefined;
        // The payload as the bytes the rule receives: kept as text, a storm's parsed payloads would not fit.
        const { payload, ...rest } = result.data;
        return { ...rest, payload: typeof payload === 'string' ? payload : JSON.stringify(payload ?? null) };
      } catch {
        return undefined;
      }
    });
  const valid = parsed.filter((line) => line !== undefined) as TraceLine[];
  return { valid, bad: parsed.length - valid.length, total: parsed.length };
}

/**
 * Replays a trace through the deployed functions in virtual time, in one thread: the same rule projection, handlers
 * and reconciler as the deployment, with delayed checks on a virtual clock. By default over the domain's ports kept
 * in memory (replay-in-memory.ts); with `fidelity`, over the real adapters on DynamoDB Local and the SNS/SQS
 * emulator. Both give the same devices, alerts and fleet counts.
 */
export async function replayTrace(
  lines: readonly string[],
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const { valid, bad, total } = parseTrace(lines);
  const faults = options.faults ?? faultsFromEnvironment(process.env);
  const mode = modeOf(options, faults, options.notice ?? ((line) => process.stderr.write(`${line}\n`)));
  const timers = new VirtualTimers(valid[0]?.at ?? 0);
  const sweepEveryMs = faults.active ? SWEEP_EVERY_MS : IDLE_SWEEP_EVERY_MS;
  const onBatch = options.onProgress && ((done: number) => options.onProgress?.(done, valid.length));
  const restoreConsole = silenceEmptyMetricsWarning();
  // The runtimes install this run's faults for the functions' crashes: the process's own come back after it.
  const processFaults = environmentFaults();
  try {
    if (mode === 'in-memory') {
      const runtime = createInMemoryRuntime({
        timers,
        sweepEveryMs,
        faults,
        ...(options.ingestThrottle ? { ingestThrottle: options.ingestThrottle } : {}),
        ...(options.accountWrites ? { accountWrites: true } : {}),
      });
      const restoreEnvironment = snapshotEnvironment();
      try {
        const result = await runTrace(runtime, timers, valid, onBatch);
        const throttles = Object.fromEntries(runtime.throttles());
        return {
          ...result,
          rejected: result.rejected + bad,
          lines: total,
          mode,
          ...(runtime.writes ? { writes: hottest(runtime.writes) } : {}),
          ...(options.ingestThrottle ? { throttles } : {}),
          ...(faults.active ? { faults: runtime.faultCounts() } : {}),
        };
      } finally {
        await runtime.stop();
        restoreEnvironment();
      }
    }
    const aws = await startLocalAws({ prefix: 'replay' });
    try {
      const runtime = await createLocalRuntime({
        aws,
        timers,
        sweepEveryMs,
        faults,
        inOrder: true,
        retryBackoffMs: 0,
      });
      const requests = options.countRequests ? countRequests(runtime.ports.clients) : undefined;
      try {
        const hasUnsent = () => runtime.ports.devices.hasUnsent();
        const result = await runTrace({ ...runtime, hasUnsent }, timers, valid, onBatch);
        return {
          ...result,
          rejected: result.rejected + bad,
          lines: total,
          mode,
          ...(requests ? { requests } : {}),
          ...(faults.active ? { faults: { struck: { ...faults.struck } } } : {}),
        };
      } finally {
        await runtime.stop();
      }
    } finally {
      await aws.stop();
    }
  } finally {
    installFaults(processFaults);
    restoreConsole();
  }
}

/**
 * The path a run takes, told on stderr when it is not the one asked for (request counts are the SDK clients', which
 * only the fidelity path has), and where injected faults strike.
 */
function modeOf(options: ReplayOptions, faults: FaultInjector, notice: (line: string) => void): ReplayMode {
  let mode: ReplayMode = options.fidelity ? 'fidelity' : 'in-memory';
  if (mode === 'in-memory' && options.countRequests) {
    notice(
      'replay: SDK requests are counted on the fidelity path (DynamoDB Local, SNS/SQS emulator): this run takes it',
    );
    mode = 'fidelity';
  }
  if (faults.active) notice(FAULTS_NOTICE[mode]);
  return mode;
}

const FAULTS_NOTICE: Record<ReplayMode, string> = {
  'in-memory':
    'replay: injected faults strike the in-memory ports (DynamoDB calls retried as the SDK clients retry them, SNS publishes refused) and the invocations; --fidelity puts them in the SDK clients',
  fidelity:
    'replay: injected faults strike the SDK clients (DynamoDB Local, SNS/SQS emulator) and the invocations',
};

function hottest(writes: WriteAccounting): ReplayResult['writes'] {
  return { hottestKey: writes.hottestKey(), hottestTransactionItem: writes.hottestTransactionItem() };
}
