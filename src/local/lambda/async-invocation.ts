import { lambdaContext } from '../lambda-context.js';
import type { Timers } from '../timers.js';
import { type DeadLetter, describeError, type InvocationCounters, type LambdaHandler } from './function.js';

export interface AsyncInvocationOptions {
  timers: Timers;
  counters: InvocationCounters;
  deadLetters: DeadLetter[];
  /** Lambda retries a failed asynchronous invocation twice, 1 and 2 minutes later. */
  retryDelaysMs: readonly number[];
  /** The on-failure destination: gets the record Lambda writes once the retries are spent. */
  onFailureDestination(record: AsyncFailureRecord): Promise<void>;
  /** Each result of a function that returned. */
  onResult?: (target: string, result: unknown) => void;
  /** After a retry ran (the local runtime reads the stream then). */
  afterRetry?: () => Promise<void>;
  onDeadLetter?: (target: string, event: unknown, error: unknown) => void;
}

/** The record Lambda's on-failure destination of an asynchronous invocation receives. */
interface AsyncFailureRecord {
  requestContext: { functionArn: string };
  requestPayload: unknown;
  responseContext: { functionError: 'Unhandled' };
}

/**
 * Lambda's asynchronous invocation (what an IoT rule's Lambda action does): the function runs; an error is retried
 * after each of the retry delays; after the last, the event goes to the on-failure destination.
 */
export class AsyncInvocation<Target extends string> {
  constructor(
    private readonly functions: Record<Target, LambdaHandler>,
    private readonly options: AsyncInvocationOptions,
  ) {}

  async invoke(target: Target, event: unknown, attempt = 0): Promise<void> {
    const { counters, timers } = this.options;
    counters.invocations += 1;
    try {
      const result = await this.functions[target](event, lambdaContext(target));
      this.options.onResult?.(target, result);
    } catch (error) {
      const delay = this.options.retryDelaysMs[attempt];
      if (delay === undefined) {
        counters.deadLettered += 1;
        this.options.deadLetters.push({ target, event, error: describeError(error) });
        await this.options.onFailureDestination({
          requestContext: { functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${target}` },
          requestPayload: event,
          responseContext: { functionError: 'Unhandled' },
        });
        this.options.onDeadLetter?.(target, event, error);
        return;
      }
      counters.retries += 1;
      timers.at(timers.now() + delay, async () => {
        await this.invoke(target, event, attempt + 1);
        await this.options.afterRetry?.();
      });
    }
  }
}
