import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

beforeAll(async () => {
  stack = await startVirtualStack({ settleWindowSeconds: 120 });
});

afterAll(async () => {
  await stack?.stop();
});

const getDevice = (deviceId: string) =>
  callApi(stack.runtime.handlers.getDevice, apiEvent(`/devices/${deviceId}`, { deviceId }));

describe('the deployed pipeline on DynamoDB Local and the SNS/SQS emulator', () => {
  it('publishes one offline alert W after an abrupt disconnect and one online alert on recovery', async () => {
    // Arrange
    const first = newSession('it-outage', 3);
    const second = newSession('it-outage', 4);
    const start = T0 + 1_000_000;
    await deliverAt(stack, start, connectedMessage(first, start));

    // Act
    await deliverAt(
      stack,
      start + 60_000,
      disconnectedMessage(first, start + 60_000, 'MQTT_KEEP_ALIVE_TIMEOUT'),
    );
    await deliverAt(stack, start + 60_300, willMessage('it-outage'));
    await stack.timers.advanceTo(start + 60_000 + W);
    const duringOutage = await getDevice('it-outage');
    await deliverAt(stack, start + 400_000, connectedMessage(second, start + 400_000));
    const alerts = await stack.runtime.receiveAlerts();

    // Assert
    expect(alerts.map((a) => [a.type, a.sessionIdentifier])).toEqual([
      ['offline', first.sessionIdentifier],
      ['online', second.sessionIdentifier],
    ]);
    expect(Date.parse(alerts[0]?.publishedAt ?? '')).toBe(start + 60_000 + W);
    expect(alerts[0]?.disconnectReason).toBe('MQTT_KEEP_ALIVE_TIMEOUT');
    expect(alerts[0]?.lastWill).toEqual(willMessage('it-outage').payload);
    expect(alerts[1]?.outageSeconds).toBe(340);
    expect(duringOutage.body).toMatchObject({
      status: 'disconnected',
      settled: true,
      disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT',
      lastWill: willMessage('it-outage').payload,
    });
    expect((await getDevice('it-outage')).body).toMatchObject({ status: 'connected', settled: true });
  });

  it('keeps the device connected and alerts nothing when an old session is taken over', async () => {
    // Arrange
    const old = newSession('it-takeover', 7);
    const fresh = newSession('it-takeover', 8);
    const start = T0 + 2_000_000;
    await deliverAt(stack, start, connectedMessage(old, start));

    // Act: the new connection arrives first, then the old session's DUPLICATE_CLIENTID disconnect and its will.
    await deliverAt(stack, start + 90_000, connectedMessage(fresh, start + 90_000));
    await deliverAt(stack, start + 90_200, disconnectedMessage(old, start + 89_000, 'DUPLICATE_CLIENTID'));
    await deliverAt(stack, start + 90_300, willMessage('it-takeover'));
    await stack.timers.advanceTo(start + 90_000 + 3 * W);

    // Assert
    expect(await stack.runtime.receiveAlerts()).toEqual([]);
    expect((await getDevice('it-takeover')).body).toMatchObject({
      status: 'connected',
      sessionIdentifier: fresh.sessionIdentifier,
    });
  });

  it('publishes nothing for a flap shorter than W', async () => {
    // Arrange
    const first = newSession('it-flap', 0);
    const second = newSession('it-flap', 1);
    const start = T0 + 3_000_000;
    await deliverAt(stack, start, connectedMessage(first, start));

    // Act
    await deliverAt(stack, start + 10_000, disconnectedMessage(first, start + 10_000));
    await deliverAt(stack, start + 10_000 + W - 5_000, connectedMessage(second, start + 10_000 + W - 5_000));
    await stack.timers.advanceTo(start + 10 * W);

    // Assert
    expect(await stack.runtime.receiveAlerts()).toEqual([]);
    expect((await getDevice('it-flap')).body).toMatchObject({ status: 'connected', settled: true });
  });

  it('stores a duplicate delivery once and ignores a late duplicate of an older session', async () => {
    // Arrange
    const first = newSession('it-dup', 1);
    const second = newSession('it-dup', 2);
    const start = T0 + 4_000_000;
    await deliverAt(stack, start, connectedMessage(first, start));
    await deliverAt(
      stack,
      start + 5_000,
      disconnectedMessage(first, start + 5_000, 'CLIENT_INITIATED_DISCONNECT'),
    );
    await deliverAt(stack, start + 6_000, connectedMessage(second, start + 6_000));

    // Act: the whole first session is delivered again, minutes later (a Lambda retry).
    await deliverAt(stack, start + 126_000, connectedMessage(first, start));
    await deliverAt(
      stack,
      start + 186_000,
      disconnectedMessage(first, start + 5_000, 'CLIENT_INITIATED_DISCONNECT'),
    );
    const events = await callApi(
      stack.runtime.handlers.listDeviceEvents,
      apiEvent('/devices/it-dup/events', { deviceId: 'it-dup' }),
    );

    // Assert
    expect((events.body.items as unknown[]).length).toBe(3);
    expect((await getDevice('it-dup')).body).toMatchObject({
      status: 'connected',
      sessionIdentifier: second.sessionIdentifier,
    });
  });

  it('treats a first event that is an abrupt disconnect as an outage of a device that was online', async () => {
    // Arrange
    const unseen = newSession('it-first-disconnect', 9);
    const start = T0 + 5_000_000;

    // Act
    await deliverAt(stack, start, disconnectedMessage(unseen, start - 1_000, 'CONNECTION_LOST'));
    await stack.timers.advanceTo(start + W);
    const alerts = await stack.runtime.receiveAlerts();

    // Assert
    expect(alerts.map((a) => [a.type, a.deviceId])).toEqual([['offline', 'it-first-disconnect']]);
    expect((await getDevice('it-first-disconnect')).body).toMatchObject({ status: 'disconnected' });
  });

  it('reports a device record it cannot read and still reconciles the rest of the batch', async () => {
    // Arrange: a record of a schema this code does not know, for a device whose event shares a batch with another's.
    const { dynamo } = stack.runtime.ports.clients;
    const table = stack.runtime.ports.config.DEVICES_TABLE;
    const foreign = {
      deviceId: 'it-unreadable',
      revision: 4,
      record: '{"schemaVersion":99,"whatever":true}',
    };
    await dynamo.send(new PutCommand({ TableName: table, Item: foreign }));
    const start = T0 + 6_000_000;
    await stack.timers.advanceTo(start);
    const healthy = newSession('it-readable', 1);
    const damaged = newSession('it-unreadable', 5);
    const toMessage = (m: { topic: string; payload: unknown }) => ({
      topic: m.topic,
      payload: Buffer.from(JSON.stringify(m.payload)),
      clientId: null,
      receivedAt: start,
    });

    // Act
    await stack.runtime.publishBatch([
      toMessage(connectedMessage(damaged, start)),
      toMessage(connectedMessage(healthy, start)),
    ]);
    await stack.timers.advanceTo(start + W);
    const { Item } = await dynamo.send(
      new GetCommand({ TableName: table, Key: { deviceId: 'it-unreadable' } }),
    );

    // Assert
    expect((await getDevice('it-readable')).body).toMatchObject({ status: 'connected' });
    expect(Item).toEqual(foreign);
    expect(stack.runtime.counters.deadLettered).toBe(0);
  });
});
