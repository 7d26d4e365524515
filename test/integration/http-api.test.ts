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

let stack: VirtualStack;
const connectedIds = Array.from({ length: 23 }, (_, i) => `api-on-${String(i).padStart(2, '0')}`);
const disconnectedIds = ['api-off-a', 'api-off-b'];

beforeAll(async () => {
  stack = await startVirtualStack();
  let at = T0;
  for (const id of [...connectedIds, ...disconnectedIds]) {
    at += 10;
    await deliverAt(stack, at, connectedMessage(newSession(id, 0), at));
  }
  for (const id of disconnectedIds) {
    at += 10;
    await deliverAt(stack, at, disconnectedMessage(newSession(id, 0), at, 'CLIENT_INITIATED_DISCONNECT'));
  }
});

afterAll(async () => {
  await stack?.stop();
});

/** The handlers of the running stack (created in beforeAll). */
const api = () => stack.runtime.handlers;

async function listAll(status: string, limit: number) {
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await callApi(
      api().listDevices,
      apiEvent('/devices', {}, { status, limit: String(limit), ...(cursor ? { cursor } : {}) }),
    );
    expect(page.statusCode).toBe(200);
    seen.push(...(page.body.items as Array<{ deviceId: string }>).map((item) => item.deviceId));
    cursor = (page.body.cursor as string | null) ?? undefined;
    pages += 1;
  } while (cursor && pages < 50);
  return seen;
}

describe('HTTP status API', () => {
  it('serves the status of a known device', async () => {
    // Act
    const response = await callApi(
      api().getDevice,
      apiEvent('/devices/api-on-00', { deviceId: 'api-on-00' }),
    );

    // Assert
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatchObject({ deviceId: 'api-on-00', status: 'connected', versionNumber: 0 });
  });

  it('answers 404 for a device never seen', async () => {
    const response = await callApi(
      api().getDevice,
      apiEvent('/devices/never-seen', { deviceId: 'never-seen' }),
    );
    expect(response).toEqual({ statusCode: 404, body: { error: 'device not found' } });
  });

  it.each([
    ['control characters', 'bad\u0001id'],
    ['more than 128 bytes', 'x'.repeat(129)],
    ['nothing', ''],
  ])('answers 400 with a JSON error for a device id with %s', async (_label, deviceId) => {
    const response = await callApi(api().getDevice, apiEvent('/devices/x', { deviceId }));
    expect(response.statusCode).toBe(400);
    expect(Object.keys(response.body)).toEqual(['error']);
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('lists every device of a status exactly once across pages of the sharded index', async () => {
    // Act
    const connected = await listAll('connected', 5);
    const disconnected = await listAll('disconnected', 100);

    // Assert
    expect([...connected].sort()).toEqual(connectedIds);
    expect(disconnected.sort()).toEqual(disconnectedIds);
  });

  it.each(['0', '101', 'ten', '-1'])('answers 400 for limit=%s', async (limit) => {
    const response = await callApi(
      api().listDevices,
      apiEvent('/devices', {}, { status: 'connected', limit }),
    );
    expect(response.statusCode).toBe(400);
  });

  it('answers 400 for a cursor that was modified or belongs to another query', async () => {
    // Arrange
    const page = await callApi(
      api().listDevices,
      apiEvent('/devices', {}, { status: 'connected', limit: '2' }),
    );
    const cursor = String(page.body.cursor);
    const [body, signature] = cursor.split('.');
    const forgedBody = Buffer.from(JSON.stringify({ shard: 0, key: { deviceId: 'api-off-a' } })).toString(
      'base64url',
    );

    // Act
    const tampered = await callApi(
      api().listDevices,
      apiEvent('/devices', {}, { status: 'connected', cursor: `${forgedBody}.${signature}` }),
    );
    const otherStatus = await callApi(
      api().listDevices,
      apiEvent('/devices', {}, { status: 'disconnected', cursor: `${body}.${signature}` }),
    );
    const garbage = await callApi(
      api().listDevices,
      apiEvent('/devices', {}, { status: 'connected', cursor: '%%%' }),
    );

    // Assert
    expect(tampered).toEqual({ statusCode: 400, body: { error: 'cursor is invalid or was tampered with' } });
    expect(otherStatus.statusCode).toBe(400);
    expect(garbage.statusCode).toBe(400);
  });

  it('serves a device event log newest first and the alert history', async () => {
    // Act
    const events = await callApi(
      api().listDeviceEvents,
      apiEvent('/devices/api-off-a/events', { deviceId: 'api-off-a' }),
    );
    const alerts = await callApi(api().listAlerts, apiEvent('/alerts', {}, { limit: '10' }));

    // Assert
    expect((events.body.items as Array<{ kind: string }>).map((e) => e.kind)).toEqual([
      'disconnected',
      'connected',
    ]);
    expect(alerts).toMatchObject({ statusCode: 200, body: { items: [] } });
  });
});
