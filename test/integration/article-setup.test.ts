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
} from '../fixtures/virtual-runtime.js';

const W = 120_000;
/** The payload of the source articles' Last Will, published on one fixed topic. */
const ARTICLE_WILL = {
  state: { reported: { last_will: 'yes', trigger_action: 'on', client_id: 'lwtThing' } },
};
let stack: VirtualStack;

beforeAll(async () => {
  stack = await startVirtualStack({ env: { WILL_TOPIC_FILTER: '/last/will/topic' } });
});

afterAll(async () => {
  await stack?.stop();
});

describe('the source articles’ setup, by configuration alone', () => {
  it('takes a will on /last/will/topic as the will of its publisher and shows it on the presence end it accompanies', async () => {
    // Arrange: lwtThing is online; its connection dies: the will, then the presence disconnect half a second later.
    const session = newSession('lwtThing', 3);
    await deliverAt(stack, T0, connectedMessage(session, T0));

    // Act
    await deliverAt(stack, T0 + 60_000, {
      topic: '/last/will/topic',
      clientId: 'lwtThing',
      payload: ARTICLE_WILL,
    });
    await deliverAt(stack, T0 + 60_500, disconnectedMessage(session, T0 + 60_500, 'CONNECTION_LOST'));
    await stack.timers.advanceTo(T0 + 60_500 + W);
    const alerts = await stack.runtime.receiveAlerts();
    const device = await callApi(
      stack.runtime.handlers.getDevice,
      apiEvent('/devices/lwtThing', { deviceId: 'lwtThing' }),
    );

    // Assert
    expect(alerts).toMatchObject([
      {
        type: 'offline',
        deviceId: 'lwtThing',
        sessionIdentifier: session.sessionIdentifier,
        versionNumber: 3,
        disconnectReason: 'CONNECTION_LOST',
        lastWill: ARTICLE_WILL,
      },
    ]);
    expect(device.body).toMatchObject({
      status: 'disconnected',
      disconnectReason: 'CONNECTION_LOST',
      lastWill: ARTICLE_WILL,
    });
  });

  it('leaves a presence device connected when its will comes with no presence end', async () => {
    // Arrange: a redelivered will reaches the rule while the device is connected.
    const start = T0 + 500_000;
    const session = newSession('lwtThing2', 7);
    await deliverAt(stack, start, connectedMessage(session, start));

    // Act
    await deliverAt(stack, start + 60_000, {
      topic: '/last/will/topic',
      clientId: 'lwtThing2',
      payload: ARTICLE_WILL,
    });
    await stack.timers.advanceTo(start + 60_000 + 3 * W);
    const alerts = await stack.runtime.receiveAlerts();
    const device = await callApi(
      stack.runtime.handlers.getDevice,
      apiEvent('/devices/lwtThing2', { deviceId: 'lwtThing2' }),
    );

    // Assert
    expect(alerts).toEqual([]);
    expect(device.body).toMatchObject({
      status: 'connected',
      sessionIdentifier: session.sessionIdentifier,
      versionNumber: 7,
    });
  });

  it('ends a device that has no presence events at all with its will, and starts it again with a birth message', async () => {
    // Arrange
    const start = T0 + 1_000_000;
    await deliverAt(stack, start, {
      topic: 'devices/lwt-only/birth',
      clientId: 'lwt-only',
      payload: { hello: 1 },
    });

    // Act
    await deliverAt(stack, start + 30_000, {
      topic: '/last/will/topic',
      clientId: 'lwt-only',
      payload: { bye: 1 },
    });
    await stack.timers.advanceTo(start + 30_000 + W);
    const offline = await callApi(
      stack.runtime.handlers.getDevice,
      apiEvent('/devices/lwt-only', { deviceId: 'lwt-only' }),
    );
    await deliverAt(stack, start + 400_000, {
      topic: 'devices/lwt-only/birth',
      clientId: 'lwt-only',
      payload: { hello: 2 },
    });
    const alerts = await stack.runtime.receiveAlerts();

    // Assert
    expect(offline.body).toMatchObject({
      status: 'disconnected',
      disconnectReason: 'LAST_WILL',
      lastWill: { bye: 1 },
    });
    expect(alerts.map((a) => [a.type, a.deviceId])).toEqual([
      ['offline', 'lwt-only'],
      ['online', 'lwt-only'],
    ]);
    const back = await callApi(
      stack.runtime.handlers.getDevice,
      apiEvent('/devices/lwt-only', { deviceId: 'lwt-only' }),
    );
    expect(back.body).toMatchObject({ status: 'connected' });
  });
});
