import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CheckScheduler } from '../domain/ports.js';

/** SQS caps a message delay at 15 minutes; a check that fires early simply re-arms itself. */
export const MAX_DELAY_SECONDS = 900;

export interface CheckMessage {
  deviceId: string;
  dueAt: number;
}

export class SqsCheckScheduler implements CheckScheduler {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async scheduleCheck(deviceId: string, dueAt: number, now: number): Promise<void> {
    const delay = Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((dueAt - now) / 1000)));
    const body: CheckMessage = { deviceId, dueAt };
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(body),
        DelaySeconds: delay,
      }),
    );
  }
}
