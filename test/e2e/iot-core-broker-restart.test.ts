import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BrokerPublish,
  type IotCoreBroker,
  type PresenceConnectedEvent,
  type PresenceDisconnectedEvent,
  startIotCoreBroker,
} from '../../src/local/iot-core-broker.js';
import { waitFor } from '../fixtures/mqtt-clients.js';

const published: BrokerPublish[] = [];
const clients: MqttClient[] = [];
let broker: IotCoreBroker | undefined;
let dataDir: string | undefined;

/** Connects and resolves with the client and whether the broker said it had a session (CONNACK). */
function connectClient(
  url: string,
  options: IClientOptions,
): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  const client = connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
  clients.push(client);
  return new Promise((resolve, reject) => {
    client.once('error', reject);
    client.once('connect', (connack) => resolve({ client, sessionPresent: connack.sessionPresent }));
  });
}

const publish = (client: MqttClient, topic: string, payload: string, options: { qos: 1; retain?: boolean }) =>
  new Promise<void>((resolve, reject) =>
    client.publish(topic, payload, options, (error) => (error ? reject(error) : resolve())),
  );

const subscribe = (client: MqttClient, topic: string) =>
  new Promise<void>((resolve, reject) =>
    client.subscribe(topic, { qos: 1 }, (error) => (error ? reject(error) : resolve())),
  );

function presence<T extends PresenceConnectedEvent | PresenceDisconnectedEvent>(
  eventType: T['eventType'],
  clientId: string,
): T[] {
  return published
    .filter((message) => message.topic === `$aws/events/presence/${eventType}/${clientId}`)
    .map((message) => JSON.parse(message.payload.toString('utf8')) as T);
}

function startBroker(stateFile: string): Promise<IotCoreBroker> {
  return startIotCoreBroker({ port: 0, stateFile, onPublish: (message) => published.push(message) });
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.end(true);
  await broker?.stop();
  broker = undefined;
  published.length = 0;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the local broker across restarts (a state file in the data folder)', () => {
  it('ends the connections a stop cut off at the next start, with their wills, and keeps versions, sessions, queued and retained messages', async () => {
    // Arrange
    dataDir = mkdtempSync(join(tmpdir(), 'broker-restart-'));
    const stateFile = join(dataDir, 'mqtt-broker-state.json');
    broker = await startBroker(stateFile);
    const keeper = await connectClient(broker.url, { clientId: 'keeper', clean: false, keepalive: 30 });
    await subscribe(keeper.client, 'news/#');
    await connectClient(broker.url, {
      clientId: 'dev-1',
      will: { topic: 'devices/dev-1/will', payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    const publisher = await connectClient(broker.url, { clientId: 'pub' });
    await publish(publisher.client, 'status/x', 'on', { qos: 1, retain: true });
    await waitFor(() => (presence('connected', 'dev-1').length === 1 ? true : undefined), 'dev-1 connected');

    // Act: stop, start again
    await broker.stop();
    const publishedAtStop = published.filter((message) => message.topic.includes('/disconnected/'));
    for (const client of clients.splice(0)) client.end(true);
    broker = await startBroker(stateFile);

    // Assert: each cut connection ended now, with its will
    expect(publishedAtStop).toEqual([]);
    expect(broker.endedAtStart).toBe(3);
    for (const clientId of ['keeper', 'dev-1', 'pub']) {
      expect(presence<PresenceDisconnectedEvent>('disconnected', clientId)).toEqual([
        expect.objectContaining({
          disconnectReason: 'SERVER_INITIATED_DISCONNECT',
          clientInitiatedDisconnect: false,
          versionNumber: 0,
          sessionIdentifier: presence<PresenceConnectedEvent>('connected', clientId)[0]?.sessionIdentifier,
        }),
      ]);
    }
    const will = published.findIndex((message) => message.topic === 'devices/dev-1/will');
    expect(published[will]).toMatchObject({ clientId: 'dev-1', payload: Buffer.from('gone') });

    // Act: a message for the offline persistent session, and one more restart
    const publisher2 = await connectClient(broker.url, { clientId: 'pub' });
    await publish(publisher2.client, 'news/1', 'hello', { qos: 1 });
    await broker.stop();
    for (const client of clients.splice(0)) client.end(true);
    broker = await startBroker(stateFile);
    const received: string[] = [];
    const keeperAgain = connect(broker.url, {
      clientId: 'keeper',
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    clients.push(keeperAgain);
    keeperAgain.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`));
    const sessionPresent = await new Promise<boolean>((resolve) =>
      keeperAgain.once('connect', (connack) => resolve(connack.sessionPresent)),
    );
    await connectClient(broker.url, { clientId: 'dev-1' });
    const watcher = await connectClient(broker.url, { clientId: 'watcher' });
    const retained: string[] = [];
    watcher.client.on('message', (topic, payload) => retained.push(`${topic} ${payload.toString()}`));
    await subscribe(watcher.client, 'status/#');

    // Assert: the session, its queued message, the versions, the retained message
    expect(sessionPresent).toBe(true);
    await waitFor(() => (received.length > 0 ? true : undefined), 'the queued message');
    expect(received).toEqual(['news/1 hello']);
    await waitFor(() => (presence('connected', 'dev-1').length === 2 ? true : undefined), 'dev-1 again');
    expect(
      presence<PresenceConnectedEvent>('connected', 'dev-1').map((event) => event.versionNumber),
    ).toEqual([0, 1]);
    expect(presence<PresenceConnectedEvent>('connected', 'keeper').at(-1)?.versionNumber).toBe(1);
    await waitFor(() => (retained.length > 0 ? true : undefined), 'the retained message');
    expect(retained).toEqual(['status/x on']);
  });

  it('restarts a client id at versionNumber 0 once it was away longer than the reset, counted across a restart', async () => {
    // Arrange
    dataDir = mkdtempSync(join(tmpdir(), 'broker-restart-'));
    const stateFile = join(dataDir, 'mqtt-broker-state.json');
    let clock = Date.parse('2026-11-22T10:00:00Z');
    const start = () =>
      startIotCoreBroker({
        port: 0,
        stateFile,
        now: () => clock,
        versionResetMs: 3_600_000,
        onPublish: (message) => published.push(message),
      });
    broker = await start();
    const first = await connectClient(broker.url, { clientId: 'dev-2' });
    first.client.end(true);
    await waitFor(() => (presence('disconnected', 'dev-2').length === 1 ? true : undefined), 'dev-2 gone');
    await connectClient(broker.url, { clientId: 'dev-2' });
    await waitFor(() => (presence('connected', 'dev-2').length === 2 ? true : undefined), 'dev-2 back');

    // Act: stop; start 59 minutes later (the cut ends then), reconnect; stop; start 61 minutes after that
    await broker.stop();
    for (const client of clients.splice(0)) client.end(true);
    clock += 59 * 60_000;
    broker = await start();
    const again = await connectClient(broker.url, { clientId: 'dev-2' });
    await waitFor(() => (presence('connected', 'dev-2').length === 3 ? true : undefined), 'dev-2 third');
    again.client.end(true);
    await waitFor(() => (presence('disconnected', 'dev-2').length === 3 ? true : undefined), 'dev-2 gone');
    await broker.stop();
    clock += 61 * 60_000;
    broker = await start();
    await connectClient(broker.url, { clientId: 'dev-2' });
    await waitFor(() => (presence('connected', 'dev-2').length === 4 ? true : undefined), 'dev-2 fourth');

    // Assert
    expect(
      presence<PresenceConnectedEvent>('connected', 'dev-2').map((event) => event.versionNumber),
    ).toEqual([0, 1, 2, 0]);
  });
});
