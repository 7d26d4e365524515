import type { DynamoDBStreamEvent } from 'aws-lambda';
import { lambdaContext } from '../lambda-context.js';
import type { OpenStreamSource, StreamSource } from '../stream-pump.js';
import type { Timers } from '../timers.js';
import type { DeadLetter, InvocationCounters, LambdaHandler } from './function.js';

/** The deployed mapping retries until the records expire; locally a window gets this many attempts per invocation. */
const MAX_ATTEMPTS = 10;

type WindowState = Record<string, unknown>;

export interface TumblingWindowMappingOptions {
  /** Where the stream's records are read from (a StreamPump on DynamoDB Local, or a stream in memory). */
  openSource: OpenStreamSource;
  streamArn: string;
  functionName: string;
  handler: LambdaHandler<unknown, { state: WindowState } | undefined>;
  /** serverless.yml's tumblingWindowInSeconds (with batchWindow the same: one batch per window). */
  windowMs: number;
  timers: Timers;
  counters: InvocationCounters;
  deadLetters: DeadLetter[];
  /** Where each shard was counted to by an earlier run (kept data): reading resumes after it. */
  checkpoints?: () => Promise<ReadonlyMap<string, string>>;
}

/**
 * Lambda's event source mapping for a DynamoDB stream with a tumbling window: at the end of every window, the records
 * written during it are handed to the function with the state it returned last, then a final invocation
 * (`isFinalInvokeForWindow`) hands it the window's state to act on. A failed invocation is made again as it was.
 * Windows end on the runtime's clock, as background work.
 */
export class TumblingWindowMapping {
  private readonly pump: StreamSource;
  private readonly states = new Map<string, WindowState>();
  /** The current window as the events name it (ISO times, made once a window: it has several invocations). */
  private window = { start: new Date(0).toISOString(), end: new Date(0).toISOString() };
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: TumblingWindowMappingOptions) {
    this.pump = options.openSource((event, shardId) => this.invoke(shardId, event.Records, false));
  }

  async start(): Promise<void> {
    await this.pump.start();
    for (const [shardId, sequence] of (await this.options.checkpoints?.()) ?? []) {
      this.pump.resumeAfter?.(shardId, sequence);
    }
    const { timers, windowMs } = this.options;
    // A window with no record and no state invokes nothing: virtual time may skip the empty ones that follow.
    timers.every(windowMs, async (end) => {
      if (this.stopped) return false;
      const delivered = await this.endWindow(end - windowMs, end);
      return delivered > 0 || this.states.size > 0;
    });
  }

  /** Ends the current window now, as if its time were up: what a look at the counts after a test's writes needs. */
  async flush(): Promise<void> {
    const now = this.options.timers.now();
    await this.endWindow(Math.floor(now / this.options.windowMs) * this.options.windowMs, now);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    this.pump.close();
  }

  /** One window at a time, as the deployed mapping processes a shard's batches in order; resolves to its records. */
  private endWindow(start: number, end: number): Promise<number> {
    const run = this.running.then(async () => {
      this.window = { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
      const delivered = await this.pump.drain();
      for (const shardId of [...this.states.keys()]) await this.invoke(shardId, [], true);
      return delivered;
    });
    this.running = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async invoke(
    shardId: string,
    records: DynamoDBStreamEvent['Records'],
    isFinalInvokeForWindow: boolean,
  ): Promise<void> {
    const { counters, functionName } = this.options;
    const event = {
      Records: records,
      window: { start: this.window.start, end: this.window.end },
      state: this.states.get(shardId) ?? {},
      shardId,
      eventSourceARN: this.options.streamArn,
      isFinalInvokeForWindow,
      isWindowTerminatedEarly: false,
    };
    for (let attempt = 1; ; attempt += 1) {
      counters.invocations += 1;
      try {
        const result = await this.options.handler(event, lambdaContext(functionName));
        if (isFinalInvokeForWindow) this.states.delete(shardId);
        else this.states.set(shardId, result?.state ?? {});
        return;
      } catch (error) {
        counters.retries += 1;
        if (attempt >= MAX_ATTEMPTS) {
          counters.deadLettered += 1;
          this.options.deadLetters.push({ target: functionName, event, error: String(error) });
          this.states.delete(shardId);
          return;
        }
      }
    }
  }
}
