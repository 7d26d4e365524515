import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { replayTrace } from '../../src/local/replay.js';
import { expectedIncidents, generateFleetTrace } from '../fixtures/aws-model/index.js';

const examples = fileURLToPath(new URL('../../../shared/examples/', import.meta.url));
const exampleTrace = `${examples}small-fleet.trace.jsonl`;

interface Expected {
  devices: Array<{ deviceId: string; status: string; sessionIdentifier: string }>;
  alerts: Array<{ type: string; deviceId: string; sessionIdentifier: string; publishedAt: number }>;
}

/** The bundled example when it is there (beside the project), else a generated fleet and its oracle. */
function traceAndExpectation(): { lines: string[]; expected: Expected } {
  if (existsSync(exampleTrace)) {
    return {
      lines: readFileSync(exampleTrace, 'utf8').split('\n'),
      expected: JSON.parse(readFileSync(`${examples}small-fleet.expected.json`, 'utf8')) as Expected,
    };
  }
  const trace = generateFleetTrace({ devices: 12, hours: 2, seed: 99, profile: 'mixed' });
  return {
    lines: trace.lines.map((line) => JSON.stringify(line)),
    expected: {
      devices: trace.expected.devices,
      alerts: trace.expected.alerts.map((a) => ({ ...a, publishedAt: a.earliest })),
    },
  };
}

const key = (a: { type: string; deviceId: string; sessionIdentifier: string }) =>
  `${a.type}|${a.deviceId}|${a.sessionIdentifier}`;

describe('replay through the whole pipeline (DynamoDB in the process, the SNS/SQS emulator)', () => {
  it('gives the same devices and alerts, to the millisecond, on DynamoDB Local and on the in-process DynamoDB in worker threads', async () => {
    // Arrange: every kind of history, 16 devices over 6 hours.
    const trace = generateFleetTrace({ devices: 16, hours: 6, seed: 7, profile: 'mixed' });
    const lines = trace.lines.map((line) => JSON.stringify(line));

    // Act
    const onDynamoDbLocal = await replayTrace(lines, { store: 'dynamodb-local', threads: 1 });
    const inProcess = await replayTrace(lines, { store: 'in-process', threads: 2 });

    // Assert
    expect(onDynamoDbLocal.alerts.length).toBeGreaterThan(10);
    expect(inProcess).toEqual(onDynamoDbLocal);
  }, 180_000);

  it('replays a trace to the expected state of every device and exactly the expected alerts, on time', async () => {
    // Arrange
    const { lines, expected } = traceAndExpectation();

    // Act
    const result = await replayTrace(lines);

    // Assert
    const states = new Map(result.devices.map((d) => [d.deviceId, [d.status, d.sessionIdentifier]]));
    for (const device of expected.devices) {
      expect(states.get(device.deviceId), device.deviceId).toEqual([device.status, device.sessionIdentifier]);
    }
    expect(result.alerts.map(key).sort()).toEqual(expected.alerts.map(key).sort());
    const earliest = new Map(expected.alerts.map((a) => [key(a), a.publishedAt]));
    for (const alert of result.alerts) {
      const lateBy = alert.publishedAt - (earliest.get(key(alert)) ?? Number.NaN);
      expect(lateBy, key(alert)).toBeGreaterThanOrEqual(0);
      expect(lateBy, key(alert)).toBeLessThanOrEqual(10_000);
    }
    expect(result.rejected).toBe(0);
  }, 120_000);

  it('decides fleet incidents over all its groups of devices: a few hundred devices with storms, fights and churn', async () => {
    // Arrange: 260 devices under four storms (blips and outages) and 12 devices fighting over their ids, 3 hours.
    const stormy = generateFleetTrace({ devices: 260, hours: 3, seed: 45, profile: 'storms' });
    const fighting = generateFleetTrace({ devices: 12, hours: 3, seed: 42, profile: 'fights' });
    const lines = [...stormy.lines, ...fighting.lines].sort((a, b) => a.at - b.at);
    const deviceAlerts = [...stormy.expected.alerts, ...fighting.expected.alerts];
    const incidents = expectedIncidents(deviceAlerts);
    const conflicts = [...stormy.expected.episodes, ...fighting.expected.episodes].filter(
      (e) => e.type === 'clientid-conflict',
    );

    // Act
    const result = await replayTrace(lines.map((line) => JSON.stringify(line)));

    // Assert: the device alerts are the oracle's, whatever the groups.
    const ofType = (...types: string[]) => result.alerts.filter((a) => types.includes(a.type));
    expect(ofType('offline', 'online').map(key).sort()).toEqual(deviceAlerts.map(key).sort());
    // One fleet-outage per qualifying storm, from its earliest offline alert; one fleet-recovered per recovery.
    expect(incidents.length).toBeGreaterThan(0);
    const outages = ofType('fleet-outage');
    expect(outages.map((a) => Date.parse(String(a.startedAt))).sort()).toEqual(
      incidents.map((i) => i.startedAt).sort(),
    );
    const recoveries = incidents.filter((i) => i.closedAt !== undefined).length;
    expect(recoveries).toBeGreaterThan(0);
    expect(ofType('fleet-recovered')).toHaveLength(recoveries);
    // Device alerts of an incident name it: every return of a member, and the offline alerts from the one that opened it.
    const incidentIds = new Set(outages.map((a) => String(a.incidentId)));
    const named = ofType('offline', 'online').filter((a) => incidentIds.has(String(a.incidentId)));
    expect(named.filter((a) => a.type === 'online').length).toBeGreaterThan(0);
    // One clientid-conflict per fight, none for a single takeover.
    const perDevice = (items: Array<{ deviceId: string }>) =>
      items.reduce(
        (counts, { deviceId }) => counts.set(deviceId, (counts.get(deviceId) ?? 0) + 1),
        new Map(),
      );
    expect(conflicts.length).toBeGreaterThan(0);
    expect(perDevice(ofType('clientid-conflict'))).toEqual(perDevice(conflicts));
    expect(result.rejected).toBe(0);
  }, 240_000);

  it('counts bad lines as rejected and goes on', async () => {
    // Arrange
    const good = JSON.stringify({
      at: 1_793_520_000_000,
      topic: '$aws/events/presence/connected/replay-ok',
      payload: {
        clientId: 'replay-ok',
        timestamp: 1_793_520_000_000,
        eventType: 'connected',
        sessionIdentifier: '11111111-1111-4111-8111-111111111111',
        versionNumber: 0,
      },
    });
    const lines = [
      'not json',
      JSON.stringify({ at: 'soon', topic: 1 }),
      JSON.stringify({
        at: 1_793_520_000_001,
        topic: 'devices/victim/will',
        clientId: 'attacker',
        payload: {},
      }),
      good,
    ];

    // Act
    const result = await replayTrace(lines);

    // Assert
    expect(result.rejected).toBe(3);
    expect(result.devices.map((d) => [d.deviceId, d.status])).toEqual([['replay-ok', 'connected']]);
  }, 120_000);
});
