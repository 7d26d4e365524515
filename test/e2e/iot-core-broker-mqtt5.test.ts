import type { IClientOptions, MqttClient } from 'mqtt';
import mqttPacket, { type IConnackPacket, type IDisconnectPacket, type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { IotCoreBrokerOptions } from '../../src/local/iot-core-broker.js';
import { BrokerUnderTest, UUID } from '../fixtures/broker-under-test.js';
import { connectMqtt, endGracefully, sleep, waitFor } from '../fixtures/mqtt-clients.js';
import { rawConnect } from '../fixtures/raw-mqtt.js';

const underTest = new BrokerUnderTest();
const { published, clients: openClients, sockets: openSockets } = underTest;

const startBroker = (options: IotCoreBrokerOptions = {}) => underTest.start(options);

interface Device {
  client: MqttClient;
  connack: IConnackPacket;
  /** DISCONNECT packets the broker sent (MQTT 5 only). */
  disconnects: IDisconnectPacket[];
  messages: Array<{ topic: string; payload: string }>;
}

async function device(clientId: string, options: IClientOptions = {}): Promise<Device> {
  const client = await connectMqtt(underTest.url, { clientId, ...options });
  openClients.push(client);
  // mqtt.js keeps the CONNACK it got (its 'connect' event has fired already).
  const connack = (client as unknown as { connackPacket?: IConnackPacket }).connackPacket;
  const disconnects: IDisconnectPacket[] = [];
  const messages: Array<{ topic: string; payload: string }> = [];
  client.on('disconnect', (packet) => disconnects.push(packet));
  client.on('message', (topic, payload) => messages.push({ topic, payload: payload.toString() }));
  return { client, connack: connack ?? ({ cmd: 'connack' } as IConnackPacket), disconnects, messages };
}

function v5(extra: IClientOptions = {}): IClientOptions {
  return { protocolVersion: 5, ...extra };
}

function eventsOn(topic: string): Array<Record<string, unknown>> {
  return published
    .filter((message) => message.topic === topic)
    .map((message) => JSON.parse(message.payload.toString('utf8')) as Record<string, unknown>);
}

function waitForEvents(topic: string, count = 1, timeoutMs = 3_000) {
  return waitFor(
    () => {
      const found = eventsOn(topic);
      return found.length >= count ? found : undefined;
    },
    `${count} event(s) on ${topic}`,
    timeoutMs,
  );
}

function waitForMessages(topic: string, count = 1, timeoutMs = 3_000) {
  return waitFor(
    () => {
      const found = published.filter((message) => message.topic === topic);
      return found.length >= count ? found : undefined;
    },
    `${count} message(s) on ${topic}`,
    timeoutMs,
  );
}

function subscribe(client: MqttClient, topics: string[], qos: 0 | 1 = 1): Promise<number[]> {
  return new Promise((resolve, reject) =>
    client.subscribe(topics, { qos }, (error, granted) =>
      error ? reject(error) : resolve((granted ?? []).map((grant) => grant.qos)),
    ),
  );
}

function publish(client: MqttClient, topic: string, payload: string, qos: 0 | 1 = 1): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(topic, payload, { qos }, (error) => (error ? reject(error) : resolve())),
  );
}

function parsePackets(bytes: Buffer, protocolVersion: 4 | 5): Packet[] {
  const packets: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion });
  parser.on('packet', (packet: Packet) => packets.push(packet));
  parser.parse(bytes);
  return packets;
}

function willOf(clientId: string) {
  return {
    topic: `devices/${clientId}/will`,
    payload: Buffer.from('offline'),
    qos: 1 as const,
    retain: false,
  };
}

afterEach(async () => {
  await underTest.stop();
});

describe.each([
  { protocol: 'MQTT 3.1.1', protocolVersion: 4 as const },
  { protocol: 'MQTT 5', protocolVersion: 5 as const },
])('$protocol clients', ({ protocolVersion }) => {
  const options = (extra: IClientOptions = {}): IClientOptions => ({ protocolVersion, ...extra });

  it('connects, publishes AWS’s connected event, and a graceful DISCONNECT is CLIENT_INITIATED_DISCONNECT without the will', async () => {
    // Arrange
    await startBroker();
    const lamp = await device(
      `lamp-${protocolVersion}`,
      options({ will: willOf(`lamp-${protocolVersion}`) }),
    );
    const [connected] = await waitForEvents(`$aws/events/presence/connected/lamp-${protocolVersion}`);

    // Act
    await endGracefully(lamp.client);
    const [disconnected] = await waitForEvents(`$aws/events/presence/disconnected/lamp-${protocolVersion}`);
    await sleep(100);

    // Assert
    expect(Object.keys(connected ?? {})).toEqual([
      'clientId',
      'timestamp',
      'eventType',
      'sessionIdentifier',
      'principalIdentifier',
      'ipAddress',
      'versionNumber',
    ]);
    expect(connected).toMatchObject({ sessionIdentifier: expect.stringMatching(UUID), versionNumber: 0 });
    expect(disconnected).toMatchObject({
      sessionIdentifier: connected?.sessionIdentifier,
      clientInitiatedDisconnect: true,
      disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
    });
    expect(published.filter((message) => message.topic === `devices/lamp-${protocolVersion}/will`)).toEqual(
      [],
    );
  });

  it('reports a lost connection as CONNECTION_LOST and publishes the will', async () => {
    // Arrange
    await startBroker();
    const id = `lock-${protocolVersion}`;
    const lock = await device(id, options({ will: willOf(id) }));
    await waitForEvents(`$aws/events/presence/connected/${id}`);

    // Act
    lock.client.stream.destroy();
    const [disconnected] = await waitForEvents(`$aws/events/presence/disconnected/${id}`);
    const [will] = await waitForMessages(`devices/${id}/will`);

    // Assert
    expect(disconnected).toMatchObject({
      clientInitiatedDisconnect: false,
      disconnectReason: 'CONNECTION_LOST',
    });
    expect(will).toMatchObject({ clientId: id, payload: Buffer.from('offline') });
  });

  it('reports a takeover as DUPLICATE_CLIENTID, publishes the old connection’s will and keeps the new one', async () => {
    // Arrange
    await startBroker();
    const id = `gateway-${protocolVersion}`;
    const original = await device(id, options({ will: willOf(id) }));
    await waitForEvents(`$aws/events/presence/connected/${id}`);

    // Act
    const replacement = await device(id, options());
    const [disconnected] = await waitForEvents(`$aws/events/presence/disconnected/${id}`);
    await waitForMessages(`devices/${id}/will`);
    await waitFor(() => (original.client.connected ? undefined : true), 'the old client to be closed');

    // Assert
    expect(disconnected).toMatchObject({ disconnectReason: 'DUPLICATE_CLIENTID', versionNumber: 0 });
    expect(eventsOn(`$aws/events/presence/connected/${id}`).map((event) => event.versionNumber)).toEqual([
      0, 1,
    ]);
    expect(replacement.client.connected).toBe(true);
    expect(original.disconnects.map((packet) => packet.reasonCode)).toEqual(
      protocolVersion === 5 ? [0x8e] : [],
    );
  });

  it('reports a silent client as MQTT_KEEP_ALIVE_TIMEOUT after 1.5 x keepalive and publishes its will', async () => {
    // Arrange
    const started = await startBroker();
    const id = `sensor-${protocolVersion}`;
    const { socket, reply } = await rawConnect(started.port, {
      protocolId: 'MQTT',
      protocolVersion,
      clean: true,
      clientId: id,
      keepalive: 1,
      will: willOf(id),
    });
    openSockets.push(socket);
    const received: Buffer[] = [];
    socket.on('data', (data: Buffer) => received.push(data));

    // Act
    const [disconnected] = await waitForEvents(`$aws/events/presence/disconnected/${id}`, 1, 4_000);
    await waitForMessages(`devices/${id}/will`);
    await sleep(50);

    // Assert
    expect(reply).toMatchObject({
      cmd: 'connack',
      ...(protocolVersion === 5 ? { reasonCode: 0 } : { returnCode: 0 }),
    });
    expect(disconnected).toMatchObject({ disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT' });
    // MQTT 5: DISCONNECT with reason code 0x8d (keep alive timeout) before the socket closes.
    expect(parsePackets(Buffer.concat(received), protocolVersion)).toEqual(
      protocolVersion === 5 ? [expect.objectContaining({ cmd: 'disconnect', reasonCode: 0x8d })] : [],
    );
  });

  it('refuses a client id the policy denies with CONNACK not authorized and publishes connect_failed', async () => {
    // Arrange
    await startBroker({ policy: { allow: ['*'], deny: ['rogue-*'] } });

    // Act
    const error = await device(`rogue-${protocolVersion}`, options()).then(
      () => new Error('let in'),
      (refusal: unknown) => refusal,
    );
    const [failed] = await waitForEvents(`$aws/events/presence/connect_failed/rogue-${protocolVersion}`);

    // Assert
    expect(error).toMatchObject({ code: protocolVersion === 5 ? 0x87 : 5 });
    expect(failed).toMatchObject({
      eventType: 'connect_failed',
      connectFailureReason: 'AUTHORIZATION_FAILED',
    });
  });
});

describe('MQTT 5 clients', () => {
  it('exchange messages with MQTT 3.1.1 clients both ways, and their publishes reach the rules with their client id', async () => {
    // Arrange
    await startBroker();
    const modern = await device('modern-1', v5());
    const legacy = await device('legacy-1', { protocolVersion: 4 });
    const grantedModern = await subscribe(modern.client, ['fleet/legacy/#']);
    await subscribe(legacy.client, ['fleet/modern/#']);

    // Act
    await publish(legacy.client, 'fleet/legacy/status', 'up');
    await publish(modern.client, 'fleet/modern/status', 'up too');
    await waitFor(
      () => (modern.messages.length > 0 && legacy.messages.length > 0 ? true : undefined),
      'both messages',
    );

    // Assert
    expect(modern.connack).toMatchObject({ reasonCode: 0, sessionPresent: false });
    expect(grantedModern).toEqual([1]);
    expect(modern.messages).toEqual([{ topic: 'fleet/legacy/status', payload: 'up' }]);
    expect(legacy.messages).toEqual([{ topic: 'fleet/modern/status', payload: 'up too' }]);
    expect(published.find((message) => message.topic === 'fleet/modern/status')?.clientId).toBe('modern-1');
  });

  it('publishes the subscription lifecycle events of an MQTT 5 client and acknowledges each unsubscribed filter', async () => {
    // Arrange
    await startBroker();
    const panel = await device('panel-9', v5());

    // Act
    await subscribe(panel.client, ['panels/a', 'panels/b']);
    await new Promise<void>((resolve, reject) =>
      panel.client.unsubscribe(['panels/a', 'panels/b'], (error) => (error ? reject(error) : resolve())),
    );
    const [unsubscribed] = await waitForEvents('$aws/events/subscriptions/unsubscribed/panel-9');

    // Assert
    expect(eventsOn('$aws/events/subscriptions/subscribed/panel-9').map((event) => event.topics)).toEqual([
      ['panels/a', 'panels/b'],
    ]);
    expect(unsubscribed?.topics).toEqual(['panels/a', 'panels/b']);
  });

  it('publishes the will when the client disconnects with reason 0x04 (disconnect with will message), as a client-initiated disconnect', async () => {
    // Arrange
    await startBroker();
    const valve = await device('valve-5', v5({ will: willOf('valve-5') }));
    await waitForEvents('$aws/events/presence/connected/valve-5');

    // Act
    await new Promise<void>((resolve) => valve.client.end(false, { reasonCode: 0x04 }, () => resolve()));
    const [disconnected] = await waitForEvents('$aws/events/presence/disconnected/valve-5');
    const [will] = await waitForMessages('devices/valve-5/will');

    // Assert
    expect(disconnected).toMatchObject({
      clientInitiatedDisconnect: true,
      disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
    });
    expect(will?.clientId).toBe('valve-5');
  });

  it('tells the client why the broker closed it: server shutdown (0x8b) and not authorized (0x87)', async () => {
    // Arrange
    const started = await startBroker();
    const pump = await device('pump-5', v5());
    const spoofer = await device('spoofer-5', v5());

    // Act
    spoofer.client.publish('$aws/events/presence/connected/pump-5', '{}');
    const [forbidden] = await waitForEvents('$aws/events/presence/disconnected/spoofer-5');
    started.dropAllClients();
    const [dropped] = await waitForEvents('$aws/events/presence/disconnected/pump-5');
    await waitFor(() => (pump.disconnects.length > 0 ? true : undefined), 'the DISCONNECT at pump-5');

    // Assert
    expect(forbidden).toMatchObject({ disconnectReason: 'FORBIDDEN_ACCESS' });
    expect(spoofer.disconnects.map((packet) => packet.reasonCode)).toEqual([0x87]);
    expect(dropped).toMatchObject({ disconnectReason: 'SERVER_INITIATED_DISCONNECT' });
    expect(pump.disconnects.map((packet) => packet.reasonCode)).toEqual([0x8b]);
  });

  it('caps the session expiry at AWS’s 7 days and says so in CONNACK', async () => {
    // Arrange
    await startBroker();

    // Act
    const tracker = await device(
      'tracker-1',
      v5({ clean: false, properties: { sessionExpiryInterval: 30 * 24 * 3_600 } }),
    );

    // Assert
    expect(tracker.connack).toMatchObject({ reasonCode: 0, properties: { sessionExpiryInterval: 604_800 } });
  });

  it('keeps a session with a session expiry across connections (messages queued meanwhile), and clean start discards it', async () => {
    // Arrange
    await startBroker();
    const persistent = v5({ clean: false, properties: { sessionExpiryInterval: 3_600 } });
    const first = await device('tracker-2', persistent);
    await subscribe(first.client, ['trackers/tracker-2/commands']);
    await endGracefully(first.client);
    const sender = await device('dispatcher', v5());
    await publish(sender.client, 'trackers/tracker-2/commands', 'reboot');

    // Act
    const resumed = await device('tracker-2', persistent);
    await waitFor(() => (resumed.messages.length > 0 ? true : undefined), 'the queued command');
    await endGracefully(resumed.client);
    const restarted = await device(
      'tracker-2',
      v5({ clean: true, properties: { sessionExpiryInterval: 3_600 } }),
    );

    // Assert
    expect(first.connack.sessionPresent).toBe(false);
    expect(resumed.connack.sessionPresent).toBe(true);
    expect(resumed.messages).toEqual([{ topic: 'trackers/tracker-2/commands', payload: 'reboot' }]);
    expect(restarted.connack.sessionPresent).toBe(false);
    expect(
      eventsOn('$aws/events/presence/disconnected/tracker-2').map((event) => event.disconnectReason),
    ).toEqual(['CLIENT_INITIATED_DISCONNECT', 'CLIENT_INITIATED_DISCONNECT']);
  });

  it('ends a session without expiry with its connection, whatever clean start said', async () => {
    // Arrange
    await startBroker();
    const first = await device('tracker-3', v5({ clean: false }));
    await subscribe(first.client, ['trackers/tracker-3/commands']);
    await endGracefully(first.client);
    await waitForEvents('$aws/events/presence/disconnected/tracker-3');
    await sleep(50);

    // Act
    const again = await device('tracker-3', v5({ clean: false }));

    // Assert
    expect(again.connack.sessionPresent).toBe(false);
  });
});
