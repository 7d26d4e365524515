import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../src/local/local-stack.js';
import { listeningAddresses } from '../fixtures/listening-sockets.js';
import {
  AlertInbox,
  type DeviceBody,
  destroySocket,
  request,
  silence,
  startTestStack,
  waitForDevice,
  waitUntilPortFree,
  waitUntilProcessGone,
} from '../fixtures/local-stack.js';
import { connectMqtt, endGracefully, sleep } from '../fixtures/mqtt-clients.js';

/** W: short, so that outages longer than W take seconds. */
const W_SECONDS = 4;
const W = W_SECONDS * 1000;
/** After W, how long the settle check, the publish and the alert watcher may take. */
const PIPELINE_SLACK = 2_500;

const inbox = new AlertInbox();
const clients: MqttClient[] = [];
let stack: LocalStack;
let run = 0;

function deviceId(name: string): string {
  run += 1;
  return `e2e-${process.pid}-${name}-${run}`;
}

function willOf(id: string) {
  return { state: { reported: { last_will: 'yes', trigger_action: 'on', client_id: id } } };
}

/** A device as the simulator builds them: MQTT 3.1.1, clean session, a JSON will on devices/<id>/will. */
async function device(id: string, keepalive = 10): Promise<MqttClient> {
  const client = await connectMqtt(stack.mqttUrl, {
    clientId: id,
    clean: true,
    keepalive,
    will: {
      topic: `devices/${id}/will`,
      payload: Buffer.from(JSON.stringify(willOf(id))),
      qos: 0,
      retain: false,
    },
  });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

const connected = (id: string) => waitForDevice(stack.httpUrl, id, (d) => d.status === 'connected');

beforeAll(async () => {
  stack = await startTestStack(W_SECONDS, inbox);
});

afterAll(async () => {
  for (const client of clients) client.end(true);
  await stack?.stop();
});

describe.concurrent('presence through the local stack (W = 4 s)', () => {
  it('sends exactly one offline alert for a socket destroyed for longer than W, and one online alert when it returns', async () => {
    // Arrange
    const id = deviceId('power-loss');
    const client = await device(id);
    await connected(id);

    // Act: power loss for longer than W
    destroySocket(client);
    const [offline] = await inbox.waitForDevice(id, 1, W + 10_000);
    await sleep(1_000);

    // Assert
    expect(inbox.forDevice(id)).toHaveLength(1);
    expect(offline).toMatchObject({ type: 'offline', deviceId: id, disconnectReason: 'CONNECTION_LOST' });
    const view = await waitForDevice(stack.httpUrl, id, (d) => d.status === 'disconnected' && d.settled);
    expect(view).toMatchObject({
      status: 'disconnected',
      disconnectReason: 'CONNECTION_LOST',
      abrupt: true,
      lastWill: willOf(id),
    });

    // Act: the device comes back
    await device(id);
    const alerts = await inbox.waitForDevice(id, 2, 5_000);
    await sleep(1_000);

    // Assert
    expect(inbox.forDevice(id)).toHaveLength(2);
    expect(alerts[1]).toMatchObject({ type: 'online', deviceId: id });
    expect((await connected(id)).status).toBe('connected');
  });

  it('sends no alert for a flap shorter than W and ends connected', async () => {
    // Arrange
    const id = deviceId('flap');
    const client = await device(id);
    const before = await connected(id);

    // Act
    destroySocket(client);
    await sleep(300);
    await device(id);
    await sleep(W + PIPELINE_SLACK);

    // Assert
    expect(inbox.forDevice(id)).toEqual([]);
    const view = await waitForDevice(stack.httpUrl, id, (d) => d.settled);
    expect(view.status).toBe('connected');
    expect(view.sessionIdentifier).not.toBe(before.sessionIdentifier);
  });

  it('sends no alert for a client-id takeover and keeps the device connected with the new session', async () => {
    // Arrange
    const id = deviceId('takeover');
    const first = await device(id);
    const firstView = await connected(id);
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));

    // Act
    await device(id);
    await firstClosed;
    await sleep(W + PIPELINE_SLACK);

    // Assert
    expect(inbox.forDevice(id)).toEqual([]);
    const view = await waitForDevice(stack.httpUrl, id, (d) => d.settled);
    expect(view).toMatchObject({ status: 'connected', versionNumber: 1 });
    expect(view.sessionIdentifier).not.toBe(firstView.sessionIdentifier);
    const events = await request<{
      items: Array<{ kind: string; sessionIdentifier?: string; disconnectReason?: string }>;
    }>(`${stack.httpUrl}/devices/${encodeURIComponent(id)}/events`);
    const newestConnect = events.body.items.find((event) => event.kind === 'connected');
    expect(newestConnect?.sessionIdentifier).toBe(view.sessionIdentifier);
    expect(events.body.items).toContainEqual(
      expect.objectContaining({ kind: 'disconnected', disconnectReason: 'DUPLICATE_CLIENTID' }),
    );
  });

  it('sends no alert for a graceful disconnect and reports CLIENT_INITIATED_DISCONNECT', async () => {
    // Arrange
    const id = deviceId('graceful');
    const client = await device(id);
    await connected(id);

    // Act
    await endGracefully(client);
    await sleep(W + PIPELINE_SLACK);

    // Assert
    expect(inbox.forDevice(id)).toEqual([]);
    const view = await waitForDevice(stack.httpUrl, id, (d) => d.status === 'disconnected');
    expect(view).toMatchObject({
      status: 'disconnected',
      disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
      abrupt: false,
      lastWill: null,
    });
  });

  it('reports a device that stops pinging as MQTT_KEEP_ALIVE_TIMEOUT and alerts once it outlasts W', async () => {
    // Arrange
    const id = deviceId('silent');
    const client = await device(id, 1);
    await connected(id);

    // Act: no more PINGREQ; the broker gives up after 1.5 x keepalive
    silence(client);
    const view = await waitForDevice(stack.httpUrl, id, (d) => d.status === 'disconnected', 5_000);
    const [offline] = await inbox.waitForDevice(id, 1, W + 10_000);

    // Assert
    expect(view).toMatchObject({ disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT', lastWill: willOf(id) });
    expect(offline).toMatchObject({ type: 'offline', disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT' });
  });
});

describe('the local HTTP API', () => {
  it('answers the deployed routes with the handlers’ responses, URL-decoding the device id', async () => {
    // Arrange
    const id = deviceId('http api');
    await device(id);
    await connected(id);

    // Act
    const one = await request<DeviceBody>(`${stack.httpUrl}/devices/${encodeURIComponent(id)}`);
    const list = await request<{ items: Array<{ deviceId: string }>; cursor: string | null }>(
      `${stack.httpUrl}/devices?status=connected&limit=100`,
    );
    const events = await request<{ items: unknown[] }>(
      `${stack.httpUrl}/devices/${encodeURIComponent(id)}/events`,
    );
    const alerts = await request<{ items: unknown[] }>(
      `${stack.httpUrl}/alerts?deviceId=${encodeURIComponent(id)}`,
    );
    const badQuery = await request(`${stack.httpUrl}/devices?status=sleeping`);
    const missing = await request(`${stack.httpUrl}/devices/no-such-device`);

    // Assert
    expect(one.status).toBe(200);
    expect(one.headers.get('content-type')).toMatch(/^application\/json/);
    expect(one.body).toMatchObject({ deviceId: id, status: 'connected' });
    expect(list.body.items.map((item) => item.deviceId)).toContain(id);
    expect(events.status).toBe(200);
    expect(events.body.items.length).toBeGreaterThan(0);
    expect(alerts).toMatchObject({ status: 200, body: { items: [] } });
    expect(badQuery.status).toBe(400);
    expect(missing.status).toBe(404);
  });

  it('answers 404 for unknown routes and 405 for other methods than GET', async () => {
    // Act
    const unknown = await request(`${stack.httpUrl}/nope`);
    const tooDeep = await request(`${stack.httpUrl}/devices/a/b/c`);
    const post = await request(`${stack.httpUrl}/devices`, { method: 'POST', body: '{}' });

    // Assert
    expect(unknown).toMatchObject({ status: 404, body: { error: 'not found' } });
    expect(tooDeep).toMatchObject({ status: 404, body: { error: 'not found' } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(post.body).toEqual({ error: expect.any(String) });
  });

  it('listens on 127.0.0.1 only, like the broker', () => {
    // Assert
    expect(listeningAddresses(stack.httpPort)).toEqual(['127.0.0.1']);
    expect(listeningAddresses(stack.mqttPort)).toEqual(['127.0.0.1']);
  });
});

describe('stopping the local stack', () => {
  it('frees every port and ends the DynamoDB Local process, and can be called twice', async () => {
    // Arrange
    const ports = [
      stack.mqttPort,
      stack.httpPort,
      ...[stack.localAws.dynamoEndpoint, stack.localAws.snsSqsEndpoint].map((url) =>
        Number(new URL(url).port),
      ),
    ];
    const [javaPid] = stack.localAws.pids;
    expect(javaPid).toBeGreaterThan(0);
    const live = await device(deviceId('at-stop'));
    const liveClosed = new Promise<boolean>((resolve) => live.once('close', () => resolve(true)));

    // Act
    await stack.stop();
    await stack.stop();

    // Assert
    for (const port of ports) expect(await waitUntilPortFree(port)).toEqual([]);
    expect(await waitUntilProcessGone(javaPid as number)).toBe(true);
    expect(() => process.kill(javaPid as number, 0)).toThrow();
    expect(await Promise.race([liveClosed, sleep(2_000).then(() => false)])).toBe(true);
  });
});
