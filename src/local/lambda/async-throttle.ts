import type { Timers } from '../timers.js';

/**
 * Lambda's throttling of asynchronous invocations (what an IoT rule's Lambda action makes), in virtual time. A
 * function runs at most `concurrency` invocations at once, each holding its execution environment `invocationMs`:
 * at most concurrency × 1000 / invocationMs start in one second. An invocation over that is throttled (429): Lambda
 * returns the event to its queue and tries again, 1 s after the first attempt and then at exponentially longer
 * intervals of at most 5 minutes, until the event is older than the maximum event age (6 hours by default), when it
 * is discarded to the on-failure destination.
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
 */
export interface AsyncThrottleSettings {
  /** The function's reserved concurrency, or the share of the account's unreserved concurrency it gets. */
  concurrency: number;
  /** How long one invocation holds an execution environment (its billed duration). */
  invocationMs: number;
  /** The first retry interval after a throttle (Lambda: 1 s). */
  firstRetryMs?: number;
  /** The longest retry interval (Lambda: 5 minutes). */
  maxRetryMs?: number;
  /** MaximumEventAgeInSeconds (Lambda's default and maximum: 6 hours). */
  maxEventAgeMs?: number;
}

/** What throttling did to the deliveries. */
export interface ThrottleFigures {
  /** Invocations that ran (first attempts and retries). */
  admitted: number;
  /** Throttle responses (one event may be throttled several times). */
  throttled: number;
  /** Events that waited in the queue at least once. */
  delayedEvents: number;
  /** The longest wait from the first attempt to the run, in ms. */
  maxDelayMs: number;
  /** Events that ran after an event that arrived later than they did: deliveries out of order. */
  reordered: number;
  /** Events discarded once older than the maximum event age. */
  expired: number;
  /** The most invocations that started in one second. */
  peakPerSecond: number;
}

interface Waiting {
  run: () => Promise<void>;
  arrivedAt: number;
  retryMs: number;
}

const HOUR = 3_600_000;

/**
 * Admits invocations up to the function's capacity in each second of virtual time and queues the rest for a retry.
 * `afterRetries` runs after each group of retries (the runtime reads the stream then).
 */
export class AsyncThrottle {
  private second = Number.NaN;
  private startedInSecond = 0;
  private latestArrivalRun = Number.NEGATIVE_INFINITY;
  private readonly groups = new Map<number, Waiting[]>();
  readonly figures: ThrottleFigures = {
    admitted: 0,
    throttled: 0,
    delayedEvents: 0,
    maxDelayMs: 0,
    reordered: 0,
    expired: 0,
    peakPerSecond: 0,
  };
  private readonly perSecond: number;
  private readonly firstRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly maxEventAgeMs: number;

  constructor(
    settings: AsyncThrottleSettings,
    private readonly timers: Timers,
    private readonly afterRetries: () => Promise<void>,
    private readonly onExpired: () => void = () => undefined,
  ) {
    this.perSecond = Math.max(1, Math.floor((settings.concurrency * 1000) / settings.invocationMs));
    this.firstRetryMs = settings.firstRetryMs ?? 1_000;
    this.maxRetryMs = settings.maxRetryMs ?? 300_000;
    this.maxEventAgeMs = settings.maxEventAgeMs ?? 6 * HOUR;
  }

  /** Runs `run` now if the function has room in this second, else queues it for a retry. */
  async invoke(run: () => Promise<void>): Promise<void> {
    const now = this.timers.now();
    if (this.admit(now)) {
      this.ran(now, now);
      await run();
      return;
    }
    this.figures.delayedEvents += 1;
    this.defer({ run, arrivedAt: now, retryMs: this.firstRetryMs });
  }

  private admit(now: number): boolean {
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.startedInSecond = 0;
    }
    if (this.startedInSecond >= this.perSecond) {
      this.figures.throttled += 1;
      return false;
    }
    this.startedInSecond += 1;
    this.figures.admitted += 1;
    this.figures.peakPerSecond = Math.max(this.figures.peakPerSecond, this.startedInSecond);
    return true;
  }

  private ran(arrivedAt: number, now: number): void {
    this.figures.maxDelayMs = Math.max(this.figures.maxDelayMs, now - arrivedAt);
    if (arrivedAt < this.latestArrivalRun) this.figures.reordered += 1;
    this.latestArrivalRun = Math.max(this.latestArrivalRun, arrivedAt);
  }

  /** Retries due at one time run together, then the stream is read once. */
  private defer(waiting: Waiting): void {
    const at = this.timers.now() + waiting.retryMs;
    if (at - waiting.arrivedAt > this.maxEventAgeMs) {
      this.figures.expired += 1;
      this.onExpired();
      return;
    }
    const group = this.groups.get(at);
    if (group) {
      group.push(waiting);
      return;
    }
    this.groups.set(at, [waiting]);
    this.timers.at(at, async () => {
      const due = this.groups.get(at) ?? [];
      this.groups.delete(at);
      for (const item of due) {
        const now = this.timers.now();
        if (!this.admit(now)) {
          this.defer({ ...item, retryMs: Math.min(item.retryMs * 2, this.maxRetryMs) });
          continue;
        }
        this.ran(item.arrivedAt, now);
        await item.run();
      }
      await this.afterRetries();
    });
  }
}
