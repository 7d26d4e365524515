import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { checkArrival, checkMessageBody } from '../../adapters/check-message.js';
import type { CheckScheduler } from '../../domain/ports.js';
import { lambdaContext } from '../lambda-context.js';
import type { Timers } from '../timers.js';
import type { InvocationCounters, LambdaHandler } from './function.js';
import { sqsRecord } from './sqs-mapping.js';

export interface VirtualCheckQueueOptions {
  timers: Timers;
  queueArn: string;
  functionName: string;
  handler: LambdaHandler<SQSEvent, SQSBatchResponse | undefined>;
  counters: InvocationCounters;
  /** When a failed check message is delivered again: the queue's visibility timeout. */
  visibilityTimeoutMs: number;
}

/**
 * The delay queue and its event source mapping in virtual time, for the replay: the SNS/SQS emulator delays and
 * hides messages on the wall clock, which a replay jumps over. Same message (the one check message definition), same
 * event, same partial batch response: a message the function reports as failed comes back after the visibility
 * timeout. It delivers each check when SQS would, one message per event: after its delay in whole seconds, and a
 * check due later than SQS can delay (15 minutes) early, so that the reconciler asks for another.
 */
export class VirtualCheckQueue implements CheckScheduler {
  private sequence = 0;

  constructor(private readonly options: VirtualCheckQueueOptions) {}

  async scheduleCheck(deviceId: string, dueAt: number, now: number): Promise<number> {
    const arrivesAt = checkArrival(dueAt, now);
    const body = checkMessageBody(deviceId, dueAt, arrivesAt);
    this.options.timers.at(arrivesAt, () => this.deliver(body, 1));
    return arrivesAt;
  }

  private async deliver(body: string, receiveCount: number): Promise<void> {
    const { counters, timers } = this.options;
    this.sequence += 1;
    const id = `virtual-${this.sequence}`;
    const record = sqsRecord(
      {
        MessageId: id,
        ReceiptHandle: id,
        Body: body,
        Attributes: {
          ApproximateReceiveCount: String(receiveCount),
          SentTimestamp: String(timers.now()),
          ApproximateFirstReceiveTimestamp: String(timers.now()),
        },
      },
      this.options.queueArn,
    );
    counters.invocations += 1;
    let failed: boolean;
    try {
      const result = await this.options.handler(
        { Records: [record] },
        lambdaContext(this.options.functionName),
      );
      failed = (result?.batchItemFailures.length ?? 0) > 0;
    } catch {
      failed = true;
    }
    if (!failed) return;
    counters.retries += 1;
    timers.at(timers.now() + this.options.visibilityTimeoutMs, () => this.deliver(body, receiveCount + 1));
  }
}
