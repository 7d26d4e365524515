import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { inspectDevice } from '../../src/adapters/dynamodb/device-inspection.js';
import { createDynamoDbClient } from '../../src/adapters/dynamodb-client.js';
import type { Alert } from '../../src/domain/ports.js';
import { DEFAULT_SETTINGS } from '../../src/domain/settings.js';
import { LOCAL_CREDENTIALS } from '../../src/local/services/local-aws.js';
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
    ['control characters', 'bad\u0001id', 'deviceId must not contain control characters'],
    ['more than 128 bytes', 'x'.repeat(129), 'deviceId must be at most 128 bytes'],
    ['nothing', '', 'deviceId must not be empty'],
    [
      'the key of the fleet incidents',
      '$fleet',
      'deviceId is reserved for the service ($fleet, $fleet#…, $counts#…)',
    ],
    [
      'a shard of the fleet incidents',
      '$fleet#3',
      'deviceId is reserved for the service ($fleet, $fleet#…, $counts#…)',
    ],
  ])(
    'answers 400 with a sentence about the request for a device id with %s',
    async (_label, deviceId, error) => {
      // Act
      const response = await callApi(api().getDevice, apiEvent('/devices/x', { deviceId }));

      // Assert
      expect(response).toEqual({ statusCode: 400, body: { error } });
    },
  );

  it('answers 404 for the events of a device never seen, as for the device itself', async () => {
    // Act
    const response = await callApi(
      api().listDeviceEvents,
      apiEvent('/devices/never-seen/events', { deviceId: 'never-seen' }),
    );

    // Assert
    expect(response).toEqual({ statusCode: 404, body: { error: 'device not found' } });
  });

  it('answers GET /health with the service version and the stack settings', async () => {
    // Act
    const response = await callApi(api().health, apiEvent('/health'));

    // Assert
    expect(response).toEqual({
      statusCode: 200,
      body: {
        service: 'iot-presence',
        version: packageJson.version,
        settings: {
          SETTLE_WINDOW_SECONDS: 120,
          ALERT_ON: 'abrupt',
          WILL_MATCH_SECONDS: 120,
          VERSION_WINDOW_SECONDS: 900,
          FLEET_OUTAGE_MIN_DEVICES: 25,
        },
      },
    });
  });

  it.each([
    [{ status: 'sleeping' }, 'status must be connected or disconnected'],
    [{ status: 'connected', cursor: '' }, 'cursor must be a cursor this API returned'],
  ])('answers 400 with a sentence about the query %o', async (query, error) => {
    // Act
    const response = await callApi(api().listDevices, apiEvent('/devices', {}, query));

    // Assert
    expect(response).toEqual({ statusCode: 400, body: { error } });
  });

  it('lists every device by its settled status exactly once across pages: a drop inside W with the connected ones, then with the disconnected ones', async () => {
    // Act: inside W of the clean ends, then once W has passed (the check asked for then moves them).
    const connectedInsideW = await listAll('connected', 5);
    const disconnectedInsideW = await listAll('disconnected', 100);
    const dropped = await callApi(api().listDevices, apiEvent('/devices', {}, { status: 'connected' }));
    await stack.timers.advanceTo(stack.timers.now() + DEFAULT_SETTINGS.settleWindowMs + 2_000);
    const connected = await listAll('connected', 5);
    const disconnected = await listAll('disconnected', 100);

    // Assert
    expect([...connectedInsideW].sort()).toEqual([...disconnectedIds, ...connectedIds].sort());
    expect(disconnectedInsideW).toEqual([]);
    expect(dropped.body.listedBy).toBe('settledStatus');
    expect(
      (dropped.body.items as Array<{ deviceId: string; status: string }>).find(
        (d) => d.deviceId === 'api-off-a',
      ),
    ).toMatchObject({ status: 'disconnected', settled: expect.any(Boolean) });
    expect([...connected].sort()).toEqual(connectedIds);
    expect(disconnected.sort()).toEqual(disconnectedIds);
  });

  it.each(['0', '101', 'ten', '-1', '2.5'])(
    'answers 400 for limit=%s, saying what limit must be',
    async (limit) => {
      // Act
      const response = await callApi(
        api().listDevices,
        apiEvent('/devices', {}, { status: 'connected', limit }),
      );

      // Assert
      expect(response).toEqual({
        statusCode: 400,
        body: { error: 'limit must be a whole number from 1 to 100' },
      });
    },
  );

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

  it('answers an empty fleet alert history with an empty page and no cursor', async () => {
    // Act
    const response = await callApi(api().listAlerts, apiEvent('/alerts', {}, { limit: '5' }));

    // Assert
    expect(response).toMatchObject({ statusCode: 200, body: { items: [], cursor: null } });
  });

  it('walks back over empty days within one request to the newest fleet alert, without an empty page', async () => {
    // Arrange: an alert published 45 days ago, and nothing since.
    const day = 86_400_000;
    const decidedAt = stack.timers.now() - 45 * day;
    const alert: Alert = {
      alertId: 'api-old/offline/s-old/0',
      type: 'offline',
      deviceId: 'api-old',
      sessionIdentifier: 's-old',
      versionNumber: 0,
      disconnectReason: 'CONNECTION_LOST',
      abrupt: true,
      since: decidedAt - 120_000,
      earliestAt: decidedAt,
      decidedAt,
    };
    await stack.runtime.ports.ledger.record(alert, decidedAt);

    // Act
    const response = await callApi(api().listAlerts, apiEvent('/alerts', {}, { limit: '1' }));

    // Assert
    expect(response.statusCode).toBe(200);
    expect((response.body.items as Array<{ alertId: string }>).map((item) => item.alertId)).toEqual([
      alert.alertId,
    ]);
  });
});

describe('npm run device', () => {
  it("decodes a device's stored item into its status, since, reason and alert cursor", async () => {
    // Arrange
    const dynamo = createDynamoDbClient({
      region: 'us-east-1',
      endpoints: { dynamodb: stack.aws.dynamoEndpoint },
      credentials: LOCAL_CREDENTIALS,
    });
    const table = stack.aws.env.DEVICES_TABLE as string;
    try {
      // Act
      const device = await inspectDevice(dynamo, table, 'api-off-a', DEFAULT_SETTINGS, stack.timers.now());
      const unknown = await inspectDevice(dynamo, table, 'never-seen', DEFAULT_SETTINGS, stack.timers.now());
      // Assert
      expect(device).toMatchObject({
        deviceId: 'api-off-a',
        status: 'disconnected',
        disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
        settled: expect.any(Boolean),
      });
      expect(typeof device?.since).toBe('string');
      expect(device).toHaveProperty('alertCursor');
      expect(device?.record).toHaveProperty('facts');
      expect(unknown).toBeUndefined();
    } finally {
      dynamo.destroy();
    }
  });
});
