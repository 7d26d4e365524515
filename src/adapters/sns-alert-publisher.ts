import { type MessageAttributeValue, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Alert, AlertPublisher } from '../domain/ports.js';
import { alertMessage } from './alert-message.js';

export { alertMessage } from './alert-message.js';

/** SNS subjects must be ASCII without line breaks, at most 100 characters. */
export function alertSubject(alert: Alert): string {
  const device = alert.deviceId.replace(/[^\x20-\x7e]/g, '?');
  const window = `${Math.round((alert.windowMs ?? 0) / 60_000)} min`;
  const text = {
    offline: `Device ${device} is offline (${alert.disconnectReason ?? 'unknown reason'})`,
    online: `Device ${device} is back online`,
    'clientid-conflict': `ClientId ${device} is shared: ${alert.count} takeovers in ${window}`,
    flapping: `Device ${device} is flapping: ${alert.count} drops in ${window}`,
  }[alert.type];
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

export class SnsAlertPublisher implements AlertPublisher {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(alert: Alert, publishedAt: number): Promise<void> {
    const attributes: Record<string, MessageAttributeValue> = {
      type: { DataType: 'String', StringValue: alert.type },
      deviceId: { DataType: 'String', StringValue: alert.deviceId },
    };
    if (alert.disconnectReason) {
      attributes.disconnectReason = { DataType: 'String', StringValue: alert.disconnectReason };
    }
    await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: alertSubject(alert),
        Message: JSON.stringify(alertMessage(alert, publishedAt)),
        MessageAttributes: attributes,
      }),
    );
  }
}
