import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FaultInjector, type FaultRates, STANDARD_FAULTS } from '../../src/adapters/faults.js';
import { type ReplayResult, replayTrace } from '../../src/local/replay.js';
import { seededRandom } from '../../src/shared/seeded-random.js';
import {
  expectedIncidents,
  FLEET_PROFILES,
  type FleetProfile,
  generateFleetTrace,
} from '../fixtures/aws-model/index.js';
import { expectContractKept, faultedFleets } from '../fixtures/fault-contract.js';

/** The example shipped beside the project (../shared/examples), vendored so that a fresh clone tests it too. */
const examples = fileURLToPath(new URL('../fixtures/examples/', import.meta.url));
const exampleLines = readFileSync(`${examples}small-fleet.trace.jsonl`, 'utf8').split('\n');
const exampleExpected = JSON.parse(readFileSync(`${examples}small-fleet.expected.json`, 'utf8')) as {
  devices: Array<{ deviceId: string; status: string; sessionIdentifier: string }>;
  alerts: Array<{ type: string; deviceId: string; sessionIdentifier: string; publishedAt: number }>;
};

const key = (a: { type: string; deviceId: string; sessionIdentifier: string }) =>
  `${a.type}|${a.deviceId}|${a.sessionIdentifier}`;

/** What both modes must agree on: everything the replay prints but the mode that ran. */
const outcome = ({ mode: _mode, writes: _writes, ...rest }: ReplayResult) => rest;

/**
 * A small fleet of every profile in one trace (each profile's devices are named by its seed), with a storm profile
 * whose outage opens a fleet incident that recovers.
 */
function everyProfile(): string[] {
  const profiles = Object.keys(FLEET_PROFILES) as FleetProfile[];
  const lines = profiles.flatMap((profile, index) =>
    profile === 'storms'
      ? generateFleetTrace({ devices: 40, hours: 1, seed: 54, profile }).lines
      : generateFleetTrace({ devices: 3, hours: 1, seed: 300 + index, profile }).lines,
  );
  return lines.sort((a, b) => a.at - b.at).map((line) => JSON.stringify(line));
}

describe('the replay on the in-memory ports and on the real adapters (DynamoDB Local, the SNS/SQS emulator)', () => {
  it('gives the same devices, alerts and fleet counts on both, for the example trace', async () => {
    // Act
    const inMemory = await replayTrace(exampleLines);
    const fidelity = await replayTrace(exampleLines, { fidelity: true });

    // Assert
    expect([inMemory.mode, fidelity.mode]).toEqual(['in-memory', 'fidelity']);
    expect(inMemory.alerts.length).toBeGreaterThan(10);
    expect(outcome(inMemory)).toEqual(outcome(fidelity));
  }, 180_000);

  it('gives the same devices, alerts and fleet counts on both, for a fleet of every profile with a storm', async () => {
    // Arrange
    const lines = everyProfile();

    // Act
    const inMemory = await replayTrace(lines);
    const fidelity = await replayTrace(lines, { fidelity: true });

    // Assert
    expect(inMemory.alerts.filter((alert) => alert.type === 'fleet-outage').length).toBeGreaterThan(0);
    expect(outcome(inMemory)).toEqual(outcome(fidelity));
  }, 240_000);
});

describe('the replay on the in-memory ports', () => {
  it('replays the example trace to the expected state of every device and exactly the expected alerts, on time', async () => {
    // Act
    const result = await replayTrace(exampleLines);

    // Assert
    const states = new Map(result.devices.map((d) => [d.deviceId, [d.status, d.sessionIdentifier]]));
    for (const device of exampleExpected.devices) {
      expect(states.get(device.deviceId), device.deviceId).toEqual([device.status, device.sessionIdentifier]);
    }
    expect(result.alerts.map(key).sort()).toEqual(exampleExpected.alerts.map(key).sort());
    const earliest = new Map(exampleExpected.alerts.map((a) => [key(a), a.publishedAt]));
    for (const alert of result.alerts) {
      const lateBy = alert.publishedAt - (earliest.get(key(alert)) ?? Number.NaN);
      expect(lateBy, key(alert)).toBeGreaterThanOrEqual(0);
      expect(lateBy, key(alert)).toBeLessThanOrEqual(10_000);
    }
    expect(result.rejected).toBe(0);
  });

  it('decides fleet incidents: a few hundred devices with storms, fights and churn', async () => {
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

    // Assert: the device alerts are the oracle's.
    const ofType = (...types: string[]) => result.alerts.filter((a) => types.includes(a.type));
    expect(ofType('offline', 'online').map(key).sort()).toEqual(deviceAlerts.map(key).sort());
    // One fleet-outage per qualifying storm, the first from the storm's earliest offline alert; one fleet-recovered
    // per recovery. Where a later storm's incident starts depends on the order its alerts are published in, within
    // a second (the oracle orders them by the earliest time they are allowed): its start is not compared.
    expect(incidents.length).toBeGreaterThan(0);
    const outages = ofType('fleet-outage');
    expect(outages).toHaveLength(incidents.length);
    expect(Date.parse(String(outages[0]?.startedAt))).toBe(incidents[0]?.startedAt);
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
  }, 120_000);

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
  });

  it('runs injected faults at the in-memory ports, and says so', async () => {
    // Arrange
    const notices: string[] = [];

    // Act
    const result = await replayTrace(exampleLines.slice(0, 10), {
      faults: new FaultInjector({ dynamodb: 0, sns: 0.1, crash: 0 }, () => 0.5),
      notice: (line) => notices.push(line),
    });

    // Assert
    expect(result.mode).toBe('in-memory');
    expect(notices).toEqual([expect.stringContaining('injected faults strike the in-memory ports')]);
  });
});

describe('faults at the in-memory ports never lose an event or duplicate an alert', () => {
  it.each(faultedFleets(21))(
    "replays a %s fleet under DynamoDB, SNS and crash faults to the oracle's states and alerts, each once",
    async (profile, seed) => {
      // Arrange
      const trace = generateFleetTrace({ devices: 12, hours: 4, seed, profile });

      // Act
      const result = await replayTrace(
        trace.lines.map((line) => JSON.stringify(line)),
        { faults: new FaultInjector(STANDARD_FAULTS, seededRandom(seed)), notice: () => undefined },
      );

      // Assert: every kind struck, and what failed was retried, by the SDK or by Lambda and the event sources.
      expectContractKept(result, trace);
      expect(result.mode).toBe('in-memory');
      const { dynamodb = 0, sns = 0, crash = 0 } = result.faults?.struck ?? {};
      expect({ dynamodb: dynamodb > 0, sns: sns > 0, crash: crash > 0 }).toEqual({
        dynamodb: true,
        sns: true,
        crash: true,
      });
      expect(result.faults?.sdkRetries).toBeGreaterThan(0);
      expect(result.retries).toBeGreaterThan(0);
    },
    120_000,
  );

  it.each<[string, FaultRates]>([
    ['DynamoDB calls that fail one in five times', { dynamodb: 0.2, sns: 0, crash: 0 }],
    ['an SNS that refuses half of the publishes', { dynamodb: 0, sns: 0.5, crash: 0 }],
    ['invocations that die after their writes one in five times', { dynamodb: 0, sns: 0, crash: 0.2 }],
  ])('keeps the contract with %s', async (_label, rates) => {
    // Arrange
    const trace = generateFleetTrace({ devices: 12, hours: 4, seed: 4242, profile: 'mixed' });

    // Act
    const result = await replayTrace(
      trace.lines.map((line) => JSON.stringify(line)),
      { faults: new FaultInjector(rates, seededRandom(9)), notice: () => undefined },
    );

    // Assert
    expectContractKept(result, trace);
    expect(Object.values(result.faults?.struck ?? {}).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});
