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
  /**
   * Up to how many messages that arrive at the same moment one event carries (serverless.yml's batchSize is 10);
   * default 1.
   */
  batchSize?: number;
  /** Told of every event delivered, with its number of messages (the bench's SQS receives and batch deletes). */
  onBatch?: (messages: number) => void;
}

interface QueuedCheck {
  body: string;
  receiveCount: number;
}

/**
 * The delay queue and its event source mapping in virtual time, for the replay: the SNS/SQS emulator delays and
 * hides messages on the wall clock, which a replay jumps over. Same message (the one check message definition), same
 * event, same partial batch response: a message the function reports as failed comes back after the visibility
 * timeout. It delivers each check when SQS would: after its delay in whole seconds, and a check due later than SQS can
 * delay (15 minutes) early, so that the reconciler asks for another; checks arriving together go up to batchSize an
 * event, one event after the other.
 */
export class VirtualCheckQueue implements CheckScheduler {
  private sequence = 0;
  /** Messages that arrive at the same moment, by arrival: delivered together, up to batchSize an event. */
  private readonly arriving = new Map<number, QueuedCheck[]>();

  constructor(private readonly options: VirtualCheckQueueOptions) {}

  async scheduleCheck(deviceId: string, dueAt: number, now: number): Promise<number> {
    const arrivesAt = checkArrival(dueAt, now);
    this.enqueue(arrivesAt, { body: checkMessageBody(deviceId, dueAt, arrivesAt), receiveCount: 1 });
    return arrivesAt;
  }

  private enqueue(at: number, check: QueuedCheck): void {
    const queued = this.arriving.get(at);
    if (queued) {
      queued.push(check);
      return;
    }
    this.arriving.set(at, [check]);
    this.options.timers.at(at, () => this.deliverArrived(at));
  }

  private async deliverArrived(at: number): Promise<void> {
    const arrived = this.arriving.get(at) ?? [];
    this.arriving.delete(at);
    const size = this.options.batchSize ?? 1;
    const batches: QueuedCheck[][] = [];
    for (let start = 0; start < arrived.length; start += size)
      batches.push(arrived.slice(start, start + size));
    // One event after the other, as one message per event always was: 100 checks arriving together delivered at
    // once made 100 reconciles race for the same fleet incident (2.3 times the requests of the reconcile entry).
    for (const batch of batches) await this.deliver(batch);
  }

  private async deliver(batch: readonly QueuedCheck[]): Promise<void> {
    const { counters, timers } = this.options;
    const records = batch.map((check) => {
      this.sequence += 1;
      const id = `virtual-${this.sequence}`;
      return sqsRecord(
        {
          MessageId: id,
          ReceiptHandle: id,
          Body: check.body,
          Attributes: {
            ApproximateReceiveCount: String(check.receiveCount),
            SentTimestamp: String(timers.now()),
            ApproximateFirstReceiveTimestamp: String(timers.now()),
          },
        },
        this.options.queueArn,
      );
    });
    counters.invocations += 1;
    this.options.onBatch?.(batch.length);
    let failed: ReadonlySet<string>;
    try {
      const result = await this.options.handler(
        { Records: records },
        lambdaContext(this.options.functionName),
      );
      failed = new Set((result?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch {
      failed = new Set(records.map((record) => record.messageId));
    }
    records.forEach((record, i) => {
      if (!failed.has(record.messageId)) return;
      const check = batch[i] as QueuedCheck;
      counters.retries += 1;
      timers.at(timers.now() + this.options.visibilityTimeoutMs, async () =>
        this.deliver([{ body: check.body, receiveCount: check.receiveCount + 1 }]),
      );
    });
  }
}
