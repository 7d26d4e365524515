import { connect as connectTcp, createServer } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  BrokerPublish,
  IotCoreBrokerOptions,
  PresenceConnectedEvent,
  PresenceDisconnectedEvent,
} from '../../src/local/iot-core-broker.js';
import { BrokerUnderTest, UUID } from '../fixtures/broker-under-test.js';
import { listeningAddresses } from '../fixtures/listening-sockets.js';
import {
  connectMqtt,
  endGracefully,
  rawMqttConnect,
  sleep,
  subscribe,
  waitFor,
} from '../fixtures/mqtt-clients.js';

const underTest = new BrokerUnderTest();
const { published, clients: openClients, sockets: openSockets } = underTest;

const startBroker = (options: IotCoreBrokerOptions = {}) => underTest.start(options);

async function device(clientId: string, extra: Parameters<typeof connectMqtt>[1] = {}): Promise<MqttClient> {
  const client = await connectMqtt(underTest.url, { clientId, ...extra });
  openClients.push(client);
  return client;
}

function presence(eventType: 'connected', clientId: string): PresenceConnectedEvent[];
function presence(eventType: 'disconnected', clientId: string): PresenceDisconnectedEvent[];
function presence(eventType: 'connected' | 'disconnected', clientId: string): unknown[] {
  return published
    .filter((message) => message.topic === `$aws/events/presence/${eventType}/${clientId}`)
    .map((message) => JSON.parse(message.payload.toString('utf8')) as unknown);
}

function waitForConnected(clientId: string, count = 1): Promise<PresenceConnectedEvent[]> {
  return waitFor(() => {
    const events = presence('connected', clientId);
    return events.length >= count ? events : undefined;
  }, `${count} connected event(s) for ${clientId}`);
}

function waitForDisconnected(
  clientId: string,
  count = 1,
  timeoutMs = 3_000,
): Promise<PresenceDisconnectedEvent[]> {
  return waitFor(
    () => {
      const events = presence('disconnected', clientId);
      return events.length >= count ? events : undefined;
    },
    `${count} disconnected event(s) for ${clientId}`,
    timeoutMs,
  );
}

function willsOn(topic: string): BrokerPublish[] {
  return published.filter((message) => message.topic === topic);
}

function will(topic: string) {
  return { topic, payload: Buffer.from('offline'), qos: 0 as const, retain: false };
}

afterEach(async () => {
  await underTest.stop();
});

describe('startIotCoreBroker', () => {
  it('listens on 127.0.0.1 only and reports the bound port', async () => {
    // Arrange
    const started = await startBroker();

    // Act
    const viaLoopback = await canConnect('127.0.0.1', started.port);
    const addresses = listeningAddresses(started.port);

    // Assert
    expect(started.port).toBeGreaterThan(0);
    expect(started.url).toBe(`mqtt://127.0.0.1:${started.port}`);
    expect(viaLoopback).toBe(true);
    expect(addresses).toEqual(['127.0.0.1']);
  });

  it('publishes a connected event with versionNumber 0 for a new client id and 1 on its next connection', async () => {
    // Arrange
    await startBroker();

    // Act
    const first = await device('thermostat-1');
    const [firstEvent] = await waitForConnected('thermostat-1');
    await endGracefully(first);
    await waitForDisconnected('thermostat-1');
    await device('thermostat-1');
    const events = await waitForConnected('thermostat-1', 2);

    // Assert
    expect(firstEvent).toEqual({
      clientId: 'thermostat-1',
      timestamp: expect.any(Number),
      eventType: 'connected',
      sessionIdentifier: expect.stringMatching(UUID),
      principalIdentifier: expect.stringMatching(/^[0-9a-f]{64}$/),
      ipAddress: '127.0.0.1',
      versionNumber: 0,
    });
    expect(Object.keys(firstEvent ?? {})).toEqual([
      'clientId',
      'timestamp',
      'eventType',
      'sessionIdentifier',
      'principalIdentifier',
      'ipAddress',
      'versionNumber',
    ]);
    expect(events[1]?.versionNumber).toBe(1);
    expect(events[1]?.sessionIdentifier).not.toBe(firstEvent?.sessionIdentifier);
    expect(events[1]?.principalIdentifier).toBe(firstEvent?.principalIdentifier);
    expect(underTest.broker?.connectedClientIds()).toEqual(['thermostat-1']);
  });

  it('reports a graceful DISCONNECT as CLIENT_INITIATED_DISCONNECT and does not publish the will', async () => {
    // Arrange
    await startBroker();
    const client = await device('lamp-1', { will: will('devices/lamp-1/will') });
    const [connected] = await waitForConnected('lamp-1');

    // Act
    await endGracefully(client);
    const [disconnected] = await waitForDisconnected('lamp-1');
    await sleep(150);

    // Assert
    expect(disconnected).toEqual({
      clientId: 'lamp-1',
      timestamp: expect.any(Number),
      eventType: 'disconnected',
      sessionIdentifier: connected?.sessionIdentifier,
      principalIdentifier: connected?.principalIdentifier,
      clientInitiatedDisconnect: true,
      disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
      versionNumber: connected?.versionNumber,
    });
    expect(willsOn('devices/lamp-1/will')).toEqual([]);
    expect(underTest.broker?.connectedClientIds()).toEqual([]);
  });

  it('reports a destroyed socket as CONNECTION_LOST and publishes the will', async () => {
    // Arrange
    await startBroker();
    const client = await device('lock-1', { will: will('devices/lock-1/will') });
    const [connected] = await waitForConnected('lock-1');

    // Act
    client.stream.destroy();
    const [disconnected] = await waitForDisconnected('lock-1');
    const [willMessage] = await waitFor(() => {
      const wills = willsOn('devices/lock-1/will');
      return wills.length > 0 ? wills : undefined;
    }, 'the will of lock-1');

    // Assert
    expect(disconnected).toMatchObject({
      sessionIdentifier: connected?.sessionIdentifier,
      clientInitiatedDisconnect: false,
      disconnectReason: 'CONNECTION_LOST',
      versionNumber: 0,
    });
    expect(willMessage?.clientId).toBe('lock-1');
    expect(willMessage?.payload.toString()).toBe('offline');
  });

  it('reports a client that stops pinging as MQTT_KEEP_ALIVE_TIMEOUT, not before 1.5 x keepalive, and publishes its will', async () => {
    // Arrange
    const started = await startBroker();
    const socket = await rawMqttConnect(started.port, {
      clientId: 'sensor-silent',
      keepaliveSeconds: 1,
      will: { topic: 'devices/sensor-silent/will', payload: 'offline' },
    });
    openSockets.push(socket);
    await waitForConnected('sensor-silent');
    const silentSince = Date.now();

    // Act
    const [disconnected] = await waitForDisconnected('sensor-silent', 1, 20_000);
    const elapsedMs = Date.now() - silentSince;
    const wills = await waitFor(() => {
      const found = willsOn('devices/sensor-silent/will');
      return found.length > 0 ? found : undefined;
    }, 'the will of sensor-silent');

    // Assert
    expect(disconnected).toMatchObject({
      clientInitiatedDisconnect: false,
      disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT',
    });
    // A lower bound only: a loaded machine makes the timeout later, never earlier.
    expect(elapsedMs).toBeGreaterThanOrEqual(1_300);
    expect(wills.map((message) => message.clientId)).toEqual(['sensor-silent']);
  });

  it('disconnects the old session with DUPLICATE_CLIENTID and publishes its will when the same client id connects again', async () => {
    // Arrange
    await startBroker();
    const original = await device('gateway-1', { will: will('devices/gateway-1/will') });
    const [oldSession] = await waitForConnected('gateway-1');

    // Act
    const replacement = await device('gateway-1');
    const [disconnected] = await waitForDisconnected('gateway-1');
    const connectedEvents = await waitForConnected('gateway-1', 2);
    const wills = await waitFor(() => {
      const found = willsOn('devices/gateway-1/will');
      return found.length > 0 ? found : undefined;
    }, 'the will of the replaced session');

    // Assert
    expect(disconnected).toMatchObject({
      sessionIdentifier: oldSession?.sessionIdentifier,
      clientInitiatedDisconnect: false,
      disconnectReason: 'DUPLICATE_CLIENTID',
      versionNumber: 0,
    });
    expect(wills.map((message) => message.clientId)).toEqual(['gateway-1']);
    const newSession = connectedEvents[1];
    expect(newSession?.versionNumber).toBe(1);
    expect(newSession?.sessionIdentifier).toMatch(UUID);
    expect(newSession?.sessionIdentifier).not.toBe(oldSession?.sessionIdentifier);
    await waitFor(() => (original.connected ? undefined : true), 'the old client to be closed');
    expect(replacement.connected).toBe(true);
    expect(presence('disconnected', 'gateway-1')).toHaveLength(1);
    expect(underTest.broker?.connectedClientIds()).toEqual(['gateway-1']);
  });

  it('restarts versionNumber at 0 once the client id has been disconnected for versionResetMs', async () => {
    // Arrange
    let clock = 1_700_000_000_000;
    await startBroker({ now: () => clock, versionResetMs: 60_000 });
    await endGracefully(await device('meter-1'));
    await waitForDisconnected('meter-1', 1);

    // Act
    clock += 59_999;
    await endGracefully(await device('meter-1'));
    await waitForDisconnected('meter-1', 2);
    clock += 60_000;
    await device('meter-1');
    const events = await waitForConnected('meter-1', 3);

    // Assert
    expect(events.map((event) => event.versionNumber)).toEqual([0, 1, 0]);
    expect(events.map((event) => event.timestamp)).toEqual([
      1_700_000_000_000, 1_700_000_059_999, 1_700_000_119_999,
    ]);
  });

  it('reports SERVER_INITIATED_DISCONNECT for every client dropped by dropAllClients and publishes their wills', async () => {
    // Arrange
    const started = await startBroker();
    await device('pump-1', { will: will('devices/pump-1/will') });
    await device('pump-2', { will: will('devices/pump-2/will') });
    await waitForConnected('pump-1');
    await waitForConnected('pump-2');

    // Act
    started.dropAllClients();
    const [first] = await waitForDisconnected('pump-1');
    const [second] = await waitForDisconnected('pump-2');
    await waitFor(
      () =>
        willsOn('devices/pump-1/will').length + willsOn('devices/pump-2/will').length === 2
          ? true
          : undefined,
      'both wills',
    );

    // Assert
    for (const event of [first, second]) {
      expect(event).toMatchObject({
        clientInitiatedDisconnect: false,
        disconnectReason: 'SERVER_INITIATED_DISCONNECT',
      });
    }
    expect(willsOn('devices/pump-1/will')[0]?.clientId).toBe('pump-1');
    expect(willsOn('devices/pump-2/will')[0]?.clientId).toBe('pump-2');
    expect(started.connectedClientIds()).toEqual([]);
  });

  it('delivers presence events to MQTT subscribers of $aws/events/presence/# and reports them with a null clientId', async () => {
    // Arrange
    await startBroker();
    const subscriber = await device('presence-listener');
    const received: Array<{ topic: string; event: unknown }> = [];
    subscriber.on('message', (topic, payload) =>
      received.push({ topic, event: JSON.parse(payload.toString()) }),
    );
    await subscribe(subscriber, '$aws/events/presence/#');

    // Act
    await endGracefully(await device('camera-1'));
    await waitFor(() => (received.length >= 2 ? true : undefined), 'two presence messages at the subscriber');

    // Assert
    expect(received.map((message) => message.topic)).toEqual([
      '$aws/events/presence/connected/camera-1',
      '$aws/events/presence/disconnected/camera-1',
    ]);
    expect(received.map((message) => message.event)).toEqual([
      ...presence('connected', 'camera-1'),
      ...presence('disconnected', 'camera-1'),
    ]);
    const reported = published.filter((message) => message.topic.endsWith('/camera-1'));
    expect(reported.map((message) => message.clientId)).toEqual([null, null]);
  });

  it('reports client publishes through onPublish with the publishing client id and the injected clock', async () => {
    // Arrange
    await startBroker({ now: () => 42 });
    const client = await device('sensor-7');

    // Act
    await new Promise<void>((resolve, reject) =>
      client.publish('telemetry/sensor-7', '{"t":21}', { qos: 1 }, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    const [message] = await waitFor(() => {
      const found = published.filter((entry) => entry.topic === 'telemetry/sensor-7');
      return found.length > 0 ? found : undefined;
    }, 'the telemetry publish');

    // Assert
    expect(message).toEqual({
      topic: 'telemetry/sensor-7',
      payload: Buffer.from('{"t":21}'),
      clientId: 'sensor-7',
      receivedAt: 42,
    });
    expect(published.some((entry) => entry.topic.startsWith('$SYS/'))).toBe(false);
  });

  it('disconnects a client that publishes on a reserved presence topic with FORBIDDEN_ACCESS', async () => {
    // Arrange
    await startBroker();
    const client = await device('spoofer');

    // Act
    client.publish('$aws/events/presence/connected/someone-else', '{}');
    const [disconnected] = await waitForDisconnected('spoofer');

    // Assert
    expect(disconnected?.disconnectReason).toBe('FORBIDDEN_ACCESS');
    expect(presence('connected', 'someone-else')).toEqual([]);
  });

  it('frees the port and ends every session when stopped', async () => {
    // Arrange
    const started = await startBroker();
    await device('valve-1');
    await waitForConnected('valve-1');

    // Act
    await started.stop();

    // Assert
    expect(presence('disconnected', 'valve-1')).toMatchObject([
      { disconnectReason: 'SERVER_INITIATED_DISCONNECT', clientInitiatedDisconnect: false },
    ]);
    expect(await canListen(started.port)).toBe(true);
  });
});

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port, timeout: 1_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
