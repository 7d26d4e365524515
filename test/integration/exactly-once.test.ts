import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  apiEvent,
  callApi,
  connectedMessage,
  deliverAt,
  disconnectedMessage,
  newSession,
  startVirtualStack,
  T0,
  type VirtualStack,
  willMessage,
} from '../fixtures/virtual-runtime.js';

const W = 120_000;
let stack: VirtualStack;
const realSend = SNSClient.prototype.send as (this: SNSClient, command: PublishCommand) => Promise<unknown>;

beforeAll(async () => {
  stack = await startVirtualStack();
});

afterAll(async () => {
  await stack?.stop();
});

afterEach(() => {
  mockClient(SNSClient).restore();
});

function message(topic: string, payload: unknown, clientId?: string) {
  return { topic, payload: Buffer.from(JSON.stringify(payload)), clientId: clientId ?? null };
}

describe('exactly-once alerts on at-least-once delivery', () => {
  it('gives one alert per outage and recovery when invocations for one device run concurrently and redeliver', async () => {
    // Arrange
    const first = newSession('race-device', 1);
    const second = newSession('race-device', 2);
    const start = T0 + 1_000_000;
    await deliverAt(stack, start, connectedMessage(first, start));
    const drop = disconnectedMessage(first, start + 1_000);
    await stack.timers.advanceTo(start + 1_000);

    // Act: eight concurrent deliveries of the same disconnect, then eight concurrent reconciles after W.
    await Promise.all(
      Array.from({ length: 8 }, () =>
        stack.runtime.publish({ ...message(drop.topic, drop.payload), receivedAt: start + 1_000 }),
      ),
    );
    await stack.timers.advanceTo(start + 1_000 + W);
    await Promise.all(
      Array.from({ length: 8 }, () => stack.runtime.ports.reconciler.reconcile('race-device')),
    );
    const recovery = connectedMessage(second, start + 300_000);
    await stack.timers.advanceTo(start + 300_000);
    await Promise.all(
      Array.from({ length: 8 }, () =>
        stack.runtime.publish({ ...message(recovery.topic, recovery.payload), receivedAt: start + 300_000 }),
      ),
    );
    await Promise.all(
      Array.from({ length: 8 }, () => stack.runtime.ports.reconciler.reconcile('race-device')),
    );
    const alerts = await stack.runtime.receiveAlerts();
    const events = await callApi(
      stack.runtime.handlers.listDeviceEvents,
      apiEvent('/devices/race-device/events', { deviceId: 'race-device' }),
    );

    // Assert
    expect(alerts.map((a) => `${a.type}:${a.sessionIdentifier}`).sort()).toEqual(
      [`offline:${first.sessionIdentifier}`, `online:${second.sessionIdentifier}`].sort(),
    );
    expect((events.body.items as unknown[]).length).toBe(3);
  });

  it('publishes an alert that SNS refused once, later, through the sweep, without a duplicate', async () => {
    // Arrange
    const session = newSession('sns-fault-device', 0);
    const start = T0 + 2_000_000;
    await deliverAt(stack, start, connectedMessage(session, start));
    await deliverAt(stack, start + 1_000, disconnectedMessage(session, start + 1_000));
    let refused = 0;
    mockClient(SNSClient)
      .on(PublishCommand)
      .callsFake(async (input, getClient) => {
        if (refused === 0) {
          refused += 1;
          throw Object.assign(new Error('SNS is unavailable'), { name: 'InternalErrorException' });
        }
        return realSend.call(getClient(), new PublishCommand(input));
      });

    // Act
    await stack.timers.advanceTo(start + 1_000 + W);
    const beforeRetry = await stack.runtime.receiveAlerts();
    await stack.timers.advanceTo(start + 1_000 + W + 120_000);
    const afterRetry = await stack.runtime.receiveAlerts();
    await stack.timers.advanceTo(start + 1_000 + W + 600_000);
    const later = await stack.runtime.receiveAlerts();

    // Assert
    expect(refused).toBe(1);
    expect(beforeRetry).toEqual([]);
    expect(afterRetry.map((a) => [a.type, a.deviceId])).toEqual([['offline', 'sns-fault-device']]);
    expect(later).toEqual([]);
    const history = await callApi(
      stack.runtime.handlers.listAlerts,
      apiEvent('/alerts', {}, { deviceId: 'sns-fault-device' }),
    );
    expect(history.body.items).toMatchObject([{ type: 'offline', status: 'sent' }]);
  });

  it('never lets the will of a taken-over session make the device offline', async () => {
    // Arrange
    const old = newSession('will-race', 4);
    const fresh = newSession('will-race', 5);
    const start = T0 + 3_000_000;
    await deliverAt(stack, start, connectedMessage(old, start));

    // Act: the will arrives first; the presence disconnect of the old session only after W.
    await deliverAt(stack, start + 50_000, connectedMessage(fresh, start + 50_000));
    await deliverAt(stack, start + 50_100, willMessage('will-race'));
    await deliverAt(
      stack,
      start + 50_100 + W + 30_000,
      disconnectedMessage(old, start + 50_000, 'DUPLICATE_CLIENTID'),
    );
    await stack.timers.advanceTo(start + 10 * W);

    // Assert
    expect(await stack.runtime.receiveAlerts()).toEqual([]);
    const device = await callApi(
      stack.runtime.handlers.getDevice,
      apiEvent('/devices/will-race', { deviceId: 'will-race' }),
    );
    expect(device.body).toMatchObject({ status: 'connected', sessionIdentifier: fresh.sessionIdentifier });
  });
});
