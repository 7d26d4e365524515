import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CheckScheduler } from '../domain/ports.js';
import { checkArrival, checkDelaySeconds, checkMessageBody } from './check-message.js';

/** The deployed delayed check: a message on the check queue, delayed until the check is due (at most 15 minutes). */
export class SqsCheckScheduler implements CheckScheduler {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async scheduleCheck(deviceId: string, dueAt: number, now: number): Promise<number> {
    const arrivesAt = checkArrival(dueAt, now);
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: checkMessageBody(deviceId, dueAt, arrivesAt),
        DelaySeconds: checkDelaySeconds(dueAt, now),
      }),
    );
    return arrivesAt;
  }
}
