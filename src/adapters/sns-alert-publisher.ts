import { type MessageAttributeValue, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { type FleetAlert, isFleetAlert } from '../domain/fleet-incidents.js';
import type { Alert, AlertPublisher, AnyAlert } from '../domain/ports.js';
import { alertMessage } from './alert-message.js';

/** SNS subjects must be ASCII without line breaks, at most 100 characters. */
function alertSubject(alert: AnyAlert): string {
  const text = isFleetAlert(alert) ? fleetSubject(alert) : deviceSubject(alert);
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

function fleetSubject(alert: FleetAlert): string {
  const minutes = Math.round((alert.durationMs ?? 0) / 60_000);
  return alert.type === 'fleet-outage'
    ? `Fleet outage: ${alert.devices} devices offline since ${new Date(alert.startedAt).toISOString().slice(11, 16)} UTC`
    : `Fleet recovered after ${minutes} min: ${alert.stillOffline ?? 0} of ${alert.devices} devices still offline`;
}

function deviceSubject(alert: Alert): string {
  const device = alert.deviceId.replace(/[^\x20-\x7e]/g, '?');
  const window = `${Math.round((alert.windowMs ?? 0) / 60_000)} min`;
  return {
    offline: `Device ${device} is offline (${alert.disconnectReason ?? 'unknown reason'})`,
    online: `Device ${device} is back online`,
    'clientid-conflict': `ClientId ${device} is shared: ${alert.count} takeovers in ${window}`,
    flapping: `Device ${device} is flapping: ${alert.count} drops in ${window}`,
  }[alert.type];
}

/**
 * Message attributes for subscription filter policies: `type` always; `deviceId` and `disconnectReason` on device
 * alerts; `incidentId` on fleet alerts and on the device alerts of an incident's devices, so that
 * `{"incidentId": [{"exists": false}]}` takes only the device alerts outside incidents.
 */
function alertAttributes(alert: AnyAlert, incidentId?: string): Record<string, MessageAttributeValue> {
  const text = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });
  const attributes: Record<string, MessageAttributeValue> = { type: text(alert.type) };
  const incident = isFleetAlert(alert) ? alert.incidentId : incidentId;
  if (incident) attributes.incidentId = text(incident);
  if (isFleetAlert(alert)) return attributes;
  attributes.deviceId = text(alert.deviceId);
  if (alert.disconnectReason) attributes.disconnectReason = text(alert.disconnectReason);
  return attributes;
}

export class SnsAlertPublisher implements AlertPublisher<AnyAlert> {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(alert: AnyAlert, publishedAt: number, incidentId?: string): Promise<void> {
    await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: alertSubject(alert),
        Message: JSON.stringify(alertMessage(alert, publishedAt, incidentId)),
        MessageAttributes: alertAttributes(alert, incidentId),
      }),
    );
  }
}
