import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../fixtures/mqtt-clients.js';
import { packageTimeoutMs } from '../fixtures/serverless-template.js';
import {
  type ArtifactStack,
  asyncFailureRecord,
  httpApiEvent,
  type MqttMessage,
  NODE24_VERSION,
  scheduledEvent,
  startArtifactStack,
  streamBatchFailureRecord,
} from './packaged-service.js';

/** The settle window W, passed as the deploy parameter, short enough for real time. */
const W_SECONDS = 2;
/** Where the measured sizes and cold import times are written (read them after a run). */
const REPORT_PATH = join(tmpdir(), 'iot-presence-artifact-report.json');

let stack: ArtifactStack;
let starting: Promise<ArtifactStack> | undefined;
const startedAt = performance.now();
let startupMs = 0;

beforeAll(async () => {
  starting = startArtifactStack({ stage: 'artifact', params: { settleWindowSeconds: String(W_SECONDS) } });
  stack = await starting;
  startupMs = performance.now() - startedAt;
}, packageTimeoutMs + 120_000);

afterAll(async () => {
  // A start that outlived the hook's timeout still ends with running processes: wait for it, then stop them.
  stack ??= (await starting?.catch(() => undefined)) as ArtifactStack;
  if (stack) {
    const report = {
      node: NODE24_VERSION,
      packageSeconds: Number((stack.artifact.durationMs / 1_000).toFixed(1)),
      startupSeconds: Number((startupMs / 1_000).toFixed(1)),
      suiteSeconds: Number(((performance.now() - startedAt) / 1_000).toFixed(1)),
      functions: await Promise.all(
        Object.values(stack.functions).map(async (fn) => ({
          function: fn.fn.key,
          zipBytes: fn.fn.zipBytes,
          bundleBytes: Object.values(fn.fn.files).reduce((sum, size) => sum + size, 0),
          coldImportMs: Math.round((await fn.ready).importMs),
        })),
      ),
    };
    await writeFile(REPORT_PATH, `${JSON.stringify(report, null, 2)}\n`);
  }
  await stack?.stop();
}, packageTimeoutMs + 120_000);

interface Session {
  clientId: string;
  sessionIdentifier: string;
  versionNumber: number;
}

function newSession(clientId: string, versionNumber: number): Session {
  return { clientId, sessionIdentifier: randomUUID(), versionNumber };
}

const PRINCIPAL = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

/** What AWS IoT publishes on $aws/events/presence/connected/<clientId>. */
function connected(session: Session, timestamp = Date.now()): MqttMessage {
  return {
    topic: `$aws/events/presence/connected/${session.clientId}`,
    clientId: '',
    payload: Buffer.from(
      JSON.stringify({
        clientId: session.clientId,
        timestamp,
        eventType: 'connected',
        sessionIdentifier: session.sessionIdentifier,
        principalIdentifier: PRINCIPAL,
        ipAddress: '192.0.2.44',
        versionNumber: session.versionNumber,
      }),
    ),
  };
}

function disconnected(session: Session, reason: string, timestamp = Date.now()): MqttMessage {
  return {
    topic: `$aws/events/presence/disconnected/${session.clientId}`,
    clientId: '',
    payload: Buffer.from(
      JSON.stringify({
        clientId: session.clientId,
        timestamp,
        eventType: 'disconnected',
        sessionIdentifier: session.sessionIdentifier,
        principalIdentifier: PRINCIPAL,
        clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT',
        disconnectReason: reason,
        versionNumber: session.versionNumber,
      }),
    ),
  };
}

function willPayload(clientId: string) {
  return { state: { reported: { last_will: 'yes', trigger_action: 'on', client_id: clientId } } };
}

/** The device's Last Will, as the broker publishes it on the will topic for the client that left. */
function will(clientId: string): MqttMessage {
  return {
    topic: `devices/${clientId}/will`,
    clientId,
    payload: Buffer.from(JSON.stringify(willPayload(clientId))),
  };
}

async function api(
  functionKey: string,
  routeKey: string,
  path: string,
  pathParameters?: Record<string, string>,
  query?: Record<string, string>,
): Promise<{ statusCode: number; body: Record<string, unknown> }> {
  const fn = stack.functions[functionKey];
  if (!fn) throw new Error(`${functionKey} is not packaged`);
  const response = await fn.invoke<{ statusCode: number; body: string }>(
    httpApiEvent(routeKey, path, pathParameters, query),
  );
  return { statusCode: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

const getDevice = (deviceId: string) =>
  api('getDevice', 'GET /devices/{deviceId}', `/devices/${deviceId}`, { deviceId });

/** Runs the event sources (stream, check queue) until the device has `count` alerts or the time is up. */
async function waitForAlerts(deviceId: string, count: number, timeoutMs = (W_SECONDS + 15) * 1_000) {
  const found: Array<Record<string, unknown>> = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await stack.pumpStream();
    await stack.pollCheckQueue();
    found.push(...(await stack.receiveAlerts()));
    const forDevice = found.filter((alert) => alert.deviceId === deviceId);
    if (forDevice.length >= count) return forDevice;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} alert(s) of ${deviceId}`);
    await sleep(250);
  }
}

describe('the packaged artifact', () => {
  it('bundles every function into one ESM file that loads on Node.js 24 in its own process', async () => {
    // Act
    const loaded = await Promise.all(
      Object.values(stack.functions).map(async (fn) => ({ fn: fn.fn, ready: await fn.ready })),
    );

    // Assert
    expect(loaded.map(({ fn }) => fn.key).sort()).toEqual([
      'countFleet',
      'deviceUptime',
      'fleet',
      'getDevice',
      'getIncident',
      'health',
      'ingestDeviceMessage',
      'ingestPresence',
      'listAlerts',
      'listDeviceEvents',
      'listDevices',
      'listIncidents',
      'reconcileEvents',
      'redrive',
      'settleCheck',
      'sweep',
    ]);
    for (const { fn, ready } of loaded) {
      expect(fn.runtime).toBe('nodejs24.x');
      expect(Object.keys(fn.files)).toEqual([`${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.mjs`]);
      expect(ready.nodeVersion).toBe(NODE24_VERSION);
    }
  });

  it('runs each function with the environment the packaged template gives it', () => {
    for (const fn of Object.values(stack.artifact.functions)) {
      // Act
      const env = stack.environments[fn.key] ?? {};

      // Assert
      expect(Object.keys(env)).toEqual(expect.arrayContaining(Object.keys(fn.environment)));
      expect(env).toMatchObject({
        EVENTS_TABLE: stack.aws.env.EVENTS_TABLE,
        ALERT_TOPIC_ARN: stack.aws.env.ALERT_TOPIC_ARN,
        CHECK_QUEUE_URL: stack.aws.env.CHECK_QUEUE_URL,
        SETTLE_WINDOW_SECONDS: String(W_SECONDS),
        WILL_TOPIC_FILTER: 'devices/+/will',
      });
      expect('INGEST_DLQ_URL' in env).toBe(fn.key === 'redrive');
    }
  });
});

describe('the packaged functions on DynamoDB Local and the SNS/SQS emulator', () => {
  it('publishes one offline alert W after an abrupt disconnect and one online alert on recovery', async () => {
    // Arrange
    const first = newSession('art-outage', 3);
    const second = newSession('art-outage', 4);
    const ingested = await stack.publish(connected(first));
    await stack.pumpStream();

    // Act
    const endedAt = Date.now();
    await stack.publish(disconnected(first, 'MQTT_KEEP_ALIVE_TIMEOUT', endedAt));
    const willRules = await stack.publish(will('art-outage'));
    const [offline] = await waitForAlerts('art-outage', 1);
    const duringOutage = await getDevice('art-outage');
    await stack.publish(connected(second));
    const [online] = await waitForAlerts('art-outage', 1);

    // Assert
    expect(ingested).toEqual([{ rule: 'PresenceRule', result: { outcome: 'stored' } }]);
    expect(willRules).toEqual([{ rule: 'WillRule', result: { outcome: 'stored' } }]);
    expect(offline).toMatchObject({
      type: 'offline',
      deviceId: 'art-outage',
      sessionIdentifier: first.sessionIdentifier,
      disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT',
      lastWill: willPayload('art-outage'),
    });
    const publishedAfterMs = Date.parse(String(offline?.publishedAt)) - endedAt;
    // Not before W; how long after is the bench's to measure (a loaded machine only delays it).
    expect(publishedAfterMs).toBeGreaterThanOrEqual(W_SECONDS * 1_000 - 1_000);
    expect(duringOutage).toMatchObject({
      statusCode: 200,
      body: {
        status: 'disconnected',
        disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT',
        lastWill: willPayload('art-outage'),
      },
    });
    expect(online).toMatchObject({ type: 'online', sessionIdentifier: second.sessionIdentifier });
    expect(await getDevice('art-outage')).toMatchObject({
      statusCode: 200,
      body: { status: 'connected', sessionIdentifier: second.sessionIdentifier },
    });
  });

  it('answers the four HTTP API routes from the packaged API functions', async () => {
    // Arrange
    const session = newSession('art-api', 0);
    await stack.publish(connected(session));
    await stack.pumpStream();

    // Act
    const device = await getDevice('art-api');
    const missing = await getDevice('art-never-seen');
    const list = await api('listDevices', 'GET /devices', '/devices', undefined, { status: 'connected' });
    const events = await api(
      'listDeviceEvents',
      'GET /devices/{deviceId}/events',
      '/devices/art-api/events',
      {
        deviceId: 'art-api',
      },
    );
    const alerts = await api('listAlerts', 'GET /alerts', '/alerts', undefined, { deviceId: 'art-outage' });
    const badLimit = await api('listDevices', 'GET /devices', '/devices', undefined, { limit: '1000' });

    // Assert
    expect(device).toMatchObject({ statusCode: 200, body: { deviceId: 'art-api', status: 'connected' } });
    expect(missing.statusCode).toBe(404);
    expect((list.body.items as Array<{ deviceId: string }>).map((item) => item.deviceId)).toContain(
      'art-api',
    );
    expect((events.body.items as Array<{ kind: string }>).map((item) => item.kind)).toEqual(['connected']);
    expect((alerts.body.items as Array<{ type: string }>).map((item) => item.type)).toEqual([
      'online',
      'offline',
    ]);
    expect(badLimit.statusCode).toBe(400);
  });

  it('counts the fleet from the devices stream with the packaged countFleet, as GET /fleet and the listing both say', async () => {
    // Arrange: a device that comes and one that goes, on top of what the earlier tests left.
    const staying = newSession('art-count-stays', 0);
    const leaving = newSession('art-count-leaves', 0);
    await stack.publish(connected(staying));
    await stack.publish(connected(leaving));
    await stack.pumpStream();
    await stack.publish(disconnected(leaving, 'CLIENT_INITIATED_DISCONNECT'));
    await stack.pumpStream();

    // Act
    const shards = await stack.endFleetCountWindow();
    const fleet = await api('fleet', 'GET /fleet', '/fleet');
    // The listings key devices by settled status; each item carries its live status, which GET /fleet counts.
    const listed = async (status: string) =>
      (await api('listDevices', 'GET /devices', '/devices', undefined, { status, limit: '100' })).body
        .items as Array<{ status: string }>;
    const everyListed = [...(await listed('connected')), ...(await listed('disconnected'))];
    const live = (status: string) => everyListed.filter((item) => item.status === status).length;

    // Assert
    expect(shards).toBeGreaterThan(0);
    expect(fleet).toMatchObject({
      statusCode: 200,
      body: { connected: live('connected'), disconnected: live('disconnected') },
    });
    expect((fleet.body.connected as number) + (fleet.body.disconnected as number)).toBeGreaterThanOrEqual(2);
  });

  it('keeps the device connected and alerts nothing when an old session is taken over; the sweep finds nothing', async () => {
    // Arrange
    const old = newSession('art-takeover', 7);
    const fresh = newSession('art-takeover', 8);
    await stack.publish(connected(old));
    await stack.pumpStream();

    // Act
    await stack.publish(connected(fresh));
    await stack.publish(disconnected(old, 'DUPLICATE_CLIENTID'));
    await stack.publish(will('art-takeover'));
    await stack.pumpStream();
    await sleep((W_SECONDS + 1) * 1_000);
    await stack.pollCheckQueue();
    const swept = await stack.functions.sweep?.invoke(scheduledEvent('iot-presence-artifact-sweep'));
    await stack.pumpStream();
    const alerts = (await stack.receiveAlerts()).filter((alert) => alert.deviceId === 'art-takeover');

    // Assert
    expect(alerts).toEqual([]);
    expect(swept).toMatchObject({ devices: 0, retried: 0 });
    expect(await getDevice('art-takeover')).toMatchObject({
      body: { status: 'connected', sessionIdentifier: fresh.sessionIdentifier },
    });
  });

  it('stores a duplicate delivery once, rejects input that is not a lifecycle event, and stores a birth', async () => {
    // Arrange
    const session = newSession('art-duplicate', 1);
    const message = connected(session);

    // Act
    const first = await stack.publish(message);
    const again = await stack.publish(message);
    const bad = await stack.functions.ingestPresence?.invoke({ topic: '$aws/events/presence/connected/x' });
    const birth = await stack.publish({
      topic: 'devices/art-duplicate/birth',
      clientId: 'art-duplicate',
      payload: Buffer.from('{"state":"online"}'),
    });
    await stack.pumpStream();
    const events = await api(
      'listDeviceEvents',
      'GET /devices/{deviceId}/events',
      '/devices/art-duplicate/events',
      { deviceId: 'art-duplicate' },
    );

    // Assert
    expect(first).toEqual([{ rule: 'PresenceRule', result: { outcome: 'stored' } }]);
    expect(again).toEqual([{ rule: 'PresenceRule', result: { outcome: 'duplicate' } }]);
    expect(bad).toMatchObject({ outcome: 'rejected' });
    expect(birth).toEqual([{ rule: 'BirthRule', result: { outcome: 'stored' } }]);
    expect((events.body.items as Array<{ kind: string }>).map((item) => item.kind).sort()).toEqual([
      'birth',
      'connected',
    ]);
  });

  it('redrives both dead-letter queues: ingest through Lambda Invoke, a parked stream batch read back from the stream', async () => {
    // Arrange: a stream batch that "kept failing" (read, never reconciled, parked in ReconcileDlq) ...
    const parked = newSession('art-parked', 0);
    await stack.publish(connected(parked));
    const batch = await stack.takeStreamRecords();
    await stack.sendToQueue(
      stack.aws.env.RECONCILE_DLQ_URL ?? '',
      streamBatchFailureRecord('iot-presence-artifact-reconcileEvents', stack.aws.eventsStreamArn, batch),
    );
    // ... and an ingest invocation that failed every attempt (Lambda's on-failure record in IngestDlq).
    const lost = newSession('art-redriven', 2);
    const lostEvent = {
      ...(JSON.parse(connected(lost).payload.toString()) as Record<string, unknown>),
      topic: '$aws/events/presence/connected/art-redriven',
      receivedAt: Date.now(),
    };
    await stack.sendToQueue(
      stack.aws.env.INGEST_DLQ_URL ?? '',
      asyncFailureRecord(stack.artifact.functions.ingestPresence?.functionName ?? '', lostEvent),
    );
    const beforeRedrive = await getDevice('art-parked');

    // Act
    const result = await stack.functions.redrive?.invoke({});
    await stack.asyncInvocationsDone();
    await stack.pumpStream();

    // Assert
    expect(batch.records.map((record) => record.eventName)).toEqual(['INSERT']);
    expect(beforeRedrive.statusCode).toBe(404);
    expect(result).toEqual({
      redriven: 1,
      unreadable: 0,
      reconciled: 1,
      reconciledDevices: 1,
      leftInReconcileDlq: 0,
    });
    expect(await getDevice('art-parked')).toMatchObject({
      statusCode: 200,
      body: { status: 'connected', sessionIdentifier: parked.sessionIdentifier },
    });
    expect(await getDevice('art-redriven')).toMatchObject({
      statusCode: 200,
      body: { status: 'connected', sessionIdentifier: lost.sessionIdentifier },
    });
  });
});
