import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type IotCoreBrokerOptions,
  isClientIdAllowed,
  parseLocalIotPolicy,
} from '../../src/local/iot-core-broker.js';
import { BrokerUnderTest, UUID } from '../fixtures/broker-under-test.js';
import { connectMqtt, endGracefully, sleep, waitFor } from '../fixtures/mqtt-clients.js';
import { rawConnect } from '../fixtures/raw-mqtt.js';

const underTest = new BrokerUnderTest();
const { published, clients: openClients, sockets: openSockets } = underTest;
const savedPolicy = process.env.LOCAL_IOT_POLICY;

const startBroker = (options: IotCoreBrokerOptions = {}) => underTest.start(options);

async function device(clientId: string, extra: Parameters<typeof connectMqtt>[1] = {}): Promise<MqttClient> {
  const client = await connectMqtt(underTest.url, { clientId, ...extra });
  openClients.push(client);
  return client;
}

function eventsOn(topic: string): Array<Record<string, unknown>> {
  return published
    .filter((message) => message.topic === topic)
    .map((message) => JSON.parse(message.payload.toString('utf8')) as Record<string, unknown>);
}

function subscribeQos1(client: MqttClient, topics: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    client.subscribe(topics, { qos: 1 }, (error) => (error ? reject(error) : resolve())),
  );
}

/** A real client that records every message it receives. */
async function watcher(clientId: string, topics: string[]) {
  const client = await device(clientId);
  const received: Array<{ topic: string; payload: string }> = [];
  client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
  await subscribeQos1(client, topics);
  return received;
}

function connectError(clientId: string, extra: Parameters<typeof connectMqtt>[1] = {}): Promise<unknown> {
  return connectMqtt(underTest.url, { clientId, ...extra }).then(
    (client) => {
      openClients.push(client);
      throw new Error(`${clientId} was let in`);
    },
    (error: unknown) => error,
  );
}

afterEach(async () => {
  await underTest.stop();
  if (savedPolicy === undefined) delete process.env.LOCAL_IOT_POLICY;
  else process.env.LOCAL_IOT_POLICY = savedPolicy;
});

describe('wills reach every matching subscriber', () => {
  it('delivers the QoS 1 will of a DUPLICATE_CLIENTID takeover to a client subscribed to # and $aws/events/#', async () => {
    // Arrange
    await startBroker();
    const received = await watcher('ops-console', ['#', '$aws/events/#']);
    await device('gateway-7', {
      will: { topic: 'devices/gateway-7/will', payload: Buffer.from('gone'), qos: 1, retain: false },
    });

    // Act
    await device('gateway-7');
    await waitFor(
      () => (received.some((message) => message.topic === 'devices/gateway-7/will') ? true : undefined),
      'the takeover will at the subscriber',
    );

    // Assert
    expect(received.filter((message) => message.topic === 'devices/gateway-7/will')).toEqual([
      { topic: 'devices/gateway-7/will', payload: 'gone' },
    ]);
    expect(
      received.filter((message) => message.topic === '$aws/events/presence/disconnected/gateway-7'),
    ).toHaveLength(1);
  });

  it('delivers the QoS 1 will of a keep-alive timeout to a client subscribed to # and $aws/events/#', async () => {
    // Arrange
    const started = await startBroker();
    const received = await watcher('ops-console', ['#', '$aws/events/#']);
    const { socket } = await rawConnect(started.port, {
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: 'sensor-quiet',
      keepalive: 1,
      will: { topic: 'devices/sensor-quiet/will', payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    openSockets.push(socket);

    // Act
    await waitFor(
      () => (received.some((message) => message.topic === 'devices/sensor-quiet/will') ? true : undefined),
      'the keep-alive will at the subscriber',
      4_000,
    );

    // Assert
    expect(received.filter((message) => message.topic === 'devices/sensor-quiet/will')).toEqual([
      { topic: 'devices/sensor-quiet/will', payload: 'gone' },
    ]);
    expect(
      eventsOn('$aws/events/presence/disconnected/sensor-quiet').map((event) => event.disconnectReason),
    ).toEqual(['MQTT_KEEP_ALIVE_TIMEOUT']);
  });

  it('still delivers a message once to a client whose subscriptions overlap', async () => {
    // Arrange
    await startBroker();
    const received = await watcher('ops-console', ['devices/#', 'devices/+/telemetry', '#']);
    const sensor = await device('sensor-1');

    // Act
    sensor.publish('devices/sensor-1/telemetry', '21.5', { qos: 1 });
    await waitFor(() => (received.length > 0 ? true : undefined), 'the telemetry at the subscriber');
    await sleep(100);

    // Assert
    expect(received).toEqual([{ topic: 'devices/sensor-1/telemetry', payload: '21.5' }]);
  });
});

describe('client ids with + or #', () => {
  it('publishes no lifecycle event and tracks no session for a client id containing + or #', async () => {
    // Arrange
    await startBroker();

    // Act
    const plus = await device('fleet+1');
    const hash = await device('fleet#2');
    await subscribeQos1(plus, ['devices/#']);
    const connectedIds = underTest.broker?.connectedClientIds();
    await endGracefully(plus);
    hash.stream.destroy();
    await endGracefully(await device('fleet-3'));
    await waitFor(
      () => (eventsOn('$aws/events/presence/disconnected/fleet-3').length > 0 ? true : undefined),
      'the events of an ordinary client id',
    );

    // Assert
    expect(connectedIds).toEqual([]);
    const lifecycleTopics = published
      .map((message) => message.topic)
      .filter((topic) => topic.startsWith('$aws/events/'));
    expect(lifecycleTopics).toEqual([
      '$aws/events/presence/connected/fleet-3',
      '$aws/events/presence/disconnected/fleet-3',
    ]);
  });
});

describe('subscription lifecycle events', () => {
  it('publishes subscribed and unsubscribed events with the topics and the session of the client', async () => {
    // Arrange
    await startBroker();
    const client = await device('panel-4');
    const [connected] = await waitFor(() => {
      const found = eventsOn('$aws/events/presence/connected/panel-4');
      return found.length > 0 ? found : undefined;
    }, 'the connected event');

    // Act
    await subscribeQos1(client, ['panels/panel-4/commands', 'panels/all/#']);
    await new Promise<void>((resolve, reject) =>
      client.unsubscribe('panels/all/#', (error) => (error ? reject(error) : resolve())),
    );
    await endGracefully(client);
    await waitFor(
      () => (eventsOn('$aws/events/presence/disconnected/panel-4').length > 0 ? true : undefined),
      'the disconnected event',
    );
    await sleep(50);

    // Assert
    const subscribed = eventsOn('$aws/events/subscriptions/subscribed/panel-4');
    const unsubscribed = eventsOn('$aws/events/subscriptions/unsubscribed/panel-4');
    expect(subscribed).toEqual([
      {
        clientId: 'panel-4',
        timestamp: expect.any(Number),
        eventType: 'subscribed',
        sessionIdentifier: connected?.sessionIdentifier,
        principalIdentifier: connected?.principalIdentifier,
        topics: ['panels/panel-4/commands', 'panels/all/#'],
      },
    ]);
    expect(unsubscribed).toEqual([
      {
        clientId: 'panel-4',
        timestamp: expect.any(Number),
        eventType: 'unsubscribed',
        sessionIdentifier: connected?.sessionIdentifier,
        principalIdentifier: connected?.principalIdentifier,
        topics: ['panels/all/#'],
      },
    ]);
  });

  it('delivers subscription events to MQTT subscribers of $aws/events/subscriptions/#', async () => {
    // Arrange
    await startBroker();
    const received = await watcher('auditor', ['$aws/events/subscriptions/#']);
    const client = await device('panel-5');

    // Act
    await subscribeQos1(client, ['panels/panel-5/commands']);
    await waitFor(
      () => (received.some((message) => message.topic.endsWith('/panel-5')) ? true : undefined),
      'the subscribed event of panel-5',
    );

    // Assert
    const events = received
      .filter((message) => message.topic === '$aws/events/subscriptions/subscribed/panel-5')
      .map((message) => JSON.parse(message.payload) as { topics: string[] });
    expect(events.map((event) => event.topics)).toEqual([['panels/panel-5/commands']]);
  });
});

describe('local policy', () => {
  it('refuses a denied client id with CONNACK not authorized and publishes connect_failed with AUTHORIZATION_FAILED', async () => {
    // Arrange
    await startBroker({ policy: { allow: ['thing-*'], deny: ['thing-13'] } });

    // Act
    const error = await connectError('thing-13');
    await waitFor(
      () => (eventsOn('$aws/events/presence/connect_failed/thing-13').length > 0 ? true : undefined),
      'the connect_failed event',
    );

    // Assert
    expect(error).toMatchObject({ code: 5 });
    const [event] = eventsOn('$aws/events/presence/connect_failed/thing-13');
    expect(event).toEqual({
      clientId: 'thing-13',
      timestamp: expect.any(Number),
      eventType: 'connect_failed',
      connectFailureReason: 'AUTHORIZATION_FAILED',
      principalIdentifier: expect.stringMatching(/^[0-9a-f]{64}$/),
      sessionIdentifier: expect.stringMatching(UUID),
      ipAddress: '127.0.0.1',
    });
    expect(eventsOn('$aws/events/presence/connected/thing-13')).toEqual([]);
    expect(eventsOn('$aws/events/presence/disconnected/thing-13')).toEqual([]);
    expect(underTest.broker?.connectedClientIds()).toEqual([]);
  });

  it('lets in the client ids the allow list matches and refuses the others', async () => {
    // Arrange
    await startBroker({ policy: { allow: ['thing-*', 'gateway-?'], deny: [] } });

    // Act
    const allowed = await device('thing-1');
    const gateway = await device('gateway-9');
    const refused = await connectError('gateway-10');

    // Assert
    expect(allowed.connected).toBe(true);
    expect(gateway.connected).toBe(true);
    expect(refused).toMatchObject({ code: 5 });
    expect(underTest.broker?.connectedClientIds().sort()).toEqual(['gateway-9', 'thing-1']);
  });

  it('reads the policy from LOCAL_IOT_POLICY when none is given', async () => {
    // Arrange
    process.env.LOCAL_IOT_POLICY = '{"deny": ["intruder-*"]}';
    await startBroker();

    // Act
    const refused = await connectError('intruder-1');
    const allowed = await device('thing-2');

    // Assert
    expect(refused).toMatchObject({ code: 5 });
    expect(allowed.connected).toBe(true);
  });

  it('parses the policy format: optional allow (default everyone) and deny lists of * and ? patterns', () => {
    // Act
    const unset = parseLocalIotPolicy(undefined);
    const denyOnly = parseLocalIotPolicy('{"deny": ["lab-*"]}');
    const both = parseLocalIotPolicy('{"allow": ["thing-?"], "deny": ["thing-0"]}');

    // Assert
    expect(unset).toEqual({ allow: ['*'], deny: [] });
    expect(denyOnly).toEqual({ allow: ['*'], deny: ['lab-*'] });
    expect(isClientIdAllowed(denyOnly, 'lab-1')).toBe(false);
    expect(isClientIdAllowed(denyOnly, 'field-1')).toBe(true);
    expect(isClientIdAllowed(both, 'thing-5')).toBe(true);
    expect(isClientIdAllowed(both, 'thing-0')).toBe(false);
    expect(isClientIdAllowed(both, 'thing-55')).toBe(false);
    expect(isClientIdAllowed({ allow: ['a.b'], deny: [] }, 'axb')).toBe(false);
  });

  it('refuses to start on a malformed LOCAL_IOT_POLICY', () => {
    // Act / Assert
    expect(() => parseLocalIotPolicy('allow everyone')).toThrow(/LOCAL_IOT_POLICY is not JSON/);
    expect(() => parseLocalIotPolicy('{"allow": "thing-*"}')).toThrow(/"allow" is not a list/);
    expect(() => parseLocalIotPolicy('{"permit": []}')).toThrow(/unknown keys permit/);
  });
});

describe('protocol levels', () => {
  it('refuses an MQTT 3.1 client with CONNACK unacceptable protocol version and publishes nothing', async () => {
    // Arrange
    await startBroker();

    // Act
    const error = await connectError('legacy-1', { protocolVersion: 3, protocolId: 'MQIsdp' });
    await sleep(100);

    // Assert
    expect(error).toMatchObject({ code: 1 });
    expect(published.filter((message) => message.topic.startsWith('$aws/events/'))).toEqual([]);
    expect(underTest.broker?.connectedClientIds()).toEqual([]);
  });
});
