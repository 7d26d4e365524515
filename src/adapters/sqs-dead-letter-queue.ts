import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterQueue, ParkedMessage } from '../domain/dead-letters.js';

/** A dead-letter queue in SQS (IngestDlq, ReconcileDlq): received ten at a time, a message deleted once handled. */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async receive(hideSeconds: number): Promise<ParkedMessage[]> {
    const { Messages = [] } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: hideSeconds,
      }),
    );
    return Messages.map((message) => ({
      messageId: message.MessageId ?? '',
      body: message.Body ?? '',
      receiptHandle: message.ReceiptHandle ?? '',
    }));
  }

  async remove(message: ParkedMessage): Promise<void> {
    await this.sqs.send(
      new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.receiptHandle }),
    );
  }
}
