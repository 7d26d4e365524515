import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { lambdaContext } from '../lambda-context.js';
import type { InvocationCounters, LambdaHandler } from './function.js';

export interface SqsMappingOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  handler: LambdaHandler<SQSEvent, SQSBatchResponse | undefined>;
  counters: InvocationCounters;
  /** serverless.yml: batchSize 10 (SQS hands out at most 10 messages per receive). */
  batchSize?: number;
  /** How many batches are polled and handled at once (Lambda starts with 5 pollers). Default 2. */
  pollers?: number;
  /** Long polling, as Lambda's pollers do (20 s). */
  waitTimeSeconds?: number;
  onError?: (error: unknown) => void;
}

/**
 * Lambda's event source mapping for an SQS queue, against a real (emulated) queue: pollers receive batches with long
 * polling, hand each to the function, and delete what it handled. With `ReportBatchItemFailures`, only the messages
 * it names stay on the queue, to be delivered again when their visibility timeout ends; a function error leaves the
 * whole batch there. The queue's own attributes (delay, visibility timeout, redrive policy) do the rest.
 */
export class SqsMapping {
  private readonly abort = new AbortController();
  private readonly loops: Array<Promise<void>> = [];
  private inFlight = 0;

  constructor(private readonly options: SqsMappingOptions) {}

  start(): void {
    const pollers = this.options.pollers ?? 2;
    for (let i = 0; i < pollers; i += 1) this.loops.push(this.poll());
  }

  /** Batches being handled right now. */
  busy(): number {
    return this.inFlight;
  }

  /** Stops polling (an open long poll is abandoned) and waits for the batches being handled. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private async poll(): Promise<void> {
    const { sqs, queueUrl } = this.options;
    while (!this.abort.signal.aborted) {
      let messages: Message[];
      try {
        const received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: this.options.batchSize ?? 10,
            WaitTimeSeconds: this.options.waitTimeSeconds ?? 20,
            MessageSystemAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.options.onError?.(error);
        await pause(1_000, this.abort.signal);
        continue;
      }
      if (messages.length === 0) continue;
      this.inFlight += 1;
      try {
        await this.handle(messages);
      } catch (error) {
        this.options.onError?.(error);
      } finally {
        this.inFlight -= 1;
      }
    }
  }

  private async handle(messages: Message[]): Promise<void> {
    const { counters } = this.options;
    const event: SQSEvent = { Records: messages.map((message) => sqsRecord(message, this.options.queueArn)) };
    counters.invocations += 1;
    let failed: Set<string>;
    try {
      const result = await this.options.handler(event, lambdaContext(this.options.functionName));
      failed = new Set((result?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch {
      // A function error: the whole batch comes back after its visibility timeout.
      failed = new Set(messages.map((message) => message.MessageId ?? ''));
    }
    if (failed.size > 0) counters.retries += 1;
    const handled = messages.filter((message) => !failed.has(message.MessageId ?? ''));
    if (handled.length === 0) return;
    await this.options.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: this.options.queueUrl,
        Entries: handled.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
  }
}

/** A received message as the event source mapping hands it to the function. */
export function sqsRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? '0',
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '0',
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? 'us-east-1',
  };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
