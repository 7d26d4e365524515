import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../src/domain/device-events.js';
import type { PresenceSettings } from '../../src/domain/settings.js';
import {
  type ExpectedOutcome,
  fleetPlanArb,
  generateFleetTrace,
  type OracleOptions,
  parseTraceLine,
  type Scenario,
  scenarioFromPlans,
  seededRandom,
  toTraceLines,
} from '../fixtures/device-history.js';
import {
  connectedEvent,
  type DeliveryLine,
  disconnectedEvent,
  type HarnessOptions,
  VirtualFleetHarness,
  willEvent,
} from '../fixtures/in-memory-ports.js';

const NUM_RUNS = 150;

/** The same message received again at `at`: presence events keep their id, a will is a new message (id from at). */
function redelivered(event: DeviceEvent, at: number): DeviceEvent {
  if (event.kind === 'will')
    return willEvent({ deviceId: event.deviceId, receivedAt: at, payload: event.payload });
  return { ...event, receivedAt: at };
}
const ALERT_SLACK_MS = 10_000;

async function replay(
  lines: readonly DeliveryLine[],
  options: HarnessOptions = {},
): Promise<VirtualFleetHarness> {
  const harness = new VirtualFleetHarness(options);
  await harness.deliverAll(lines);
  await harness.finish();
  return harness;
}

const alertKey = (a: { type: string; deviceId: string; sessionIdentifier: string }) =>
  `${a.deviceId} ${a.type} ${a.sessionIdentifier}`;

function finalStates(harness: VirtualFleetHarness) {
  return harness.deviceIds().map((deviceId) => {
    const view = harness.view(deviceId);
    return { deviceId, status: view?.status, sessionIdentifier: view?.sessionIdentifier };
  });
}

function expectedStates(expected: ExpectedOutcome) {
  return [...expected.devices].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}

/** A readable account of one device's deliveries, for failure messages. */
function describeDevice(scenario: Scenario, deviceId: string): string {
  const t0 = scenario.lines[0]?.at ?? 0;
  const sid = (s: string) => s.slice(0, 8);
  return scenario.lines
    .filter((line) => line.deviceEvent.deviceId === deviceId)
    .map(({ at, deviceEvent: e }) => {
      const rel = `+${((at - t0) / 1000).toFixed(3)}s`;
      switch (e.kind) {
        case 'connected':
          return `${rel} connected ${sid(e.sessionIdentifier)} v${e.versionNumber} ts${((e.timestamp - t0) / 1000).toFixed(1)}`;
        case 'disconnected':
          return `${rel} disconnected ${sid(e.sessionIdentifier)} v${e.versionNumber} ${e.disconnectReason} ts${((e.timestamp - t0) / 1000).toFixed(1)}`;
        default:
          return `${rel} ${e.kind}`;
      }
    })
    .join('\n');
}

/** Every way the replay differs from the oracle; empty when it matches. */
function discrepancies(harness: VirtualFleetHarness, scenario: Scenario): string[] {
  const problems: string[] = [];
  const actualStates = finalStates(harness);
  const wanted = expectedStates(scenario.expected);
  const devices = new Set([...actualStates.map((d) => d.deviceId), ...wanted.map((d) => d.deviceId)]);
  for (const deviceId of devices) {
    const actual = actualStates.find((d) => d.deviceId === deviceId);
    const expected = wanted.find((d) => d.deviceId === deviceId);
    if (actual?.status !== expected?.status || actual?.sessionIdentifier !== expected?.sessionIdentifier) {
      problems.push(
        `state of ${deviceId}: expected ${expected?.status} ${expected?.sessionIdentifier}, got ${actual?.status} ${actual?.sessionIdentifier}\n${describeDevice(scenario, deviceId)}`,
      );
    }
  }
  const published = harness.alerts();
  const seen = new Map<string, number>();
  for (const alert of published) seen.set(alertKey(alert), (seen.get(alertKey(alert)) ?? 0) + 1);
  for (const [key, count] of seen) if (count > 1) problems.push(`alert published ${count} times: ${key}`);
  for (const expected of scenario.expected.alerts) {
    const actual = published.find((a) => alertKey(a) === alertKey(expected));
    if (!actual) {
      problems.push(`missing alert ${alertKey(expected)}\n${describeDevice(scenario, expected.deviceId)}`);
    } else if (
      actual.publishedAt < expected.earliest ||
      actual.publishedAt > expected.earliest + ALERT_SLACK_MS
    ) {
      problems.push(
        `alert ${alertKey(expected)} published at ${actual.publishedAt - expected.earliest} ms from the earliest allowed`,
      );
    }
  }
  for (const actual of published) {
    if (!scenario.expected.alerts.some((e) => alertKey(e) === alertKey(actual))) {
      problems.push(`unexpected alert ${alertKey(actual)}\n${describeDevice(scenario, actual.deviceId)}`);
    }
  }
  return problems;
}

describe('Reconciler replaying generated device histories', () => {
  it('ends with the oracle status and newest session of every device', async () => {
    await fc.assert(
      fc.asyncProperty(fleetPlanArb(), async (plans) => {
        // Arrange
        const scenario = scenarioFromPlans(plans);
        // Act
        const harness = await replay(scenario.lines);
        // Assert
        expect(finalStates(harness)).toEqual(expectedStates(scenario.expected));
        for (const deviceId of harness.deviceIds()) expect(harness.view(deviceId)?.settled).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('publishes exactly the oracle alerts, each once', async () => {
    await fc.assert(
      fc.asyncProperty(fleetPlanArb(), async (plans) => {
        // Arrange
        const scenario = scenarioFromPlans(plans);
        // Act
        const harness = await replay(scenario.lines);
        // Assert
        const published = harness.alerts().map(alertKey).sort();
        expect(published, discrepancies(harness, scenario).join('\n\n')).toEqual(
          scenario.expected.alerts.map(alertKey).sort(),
        );
        expect(harness.ledger.unsent()).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('publishes every alert between its earliest allowed time and 10 s later', async () => {
    await fc.assert(
      fc.asyncProperty(fleetPlanArb(), async (plans) => {
        // Arrange
        const scenario = scenarioFromPlans(plans);
        // Act
        const harness = await replay(scenario.lines);
        // Assert
        for (const expected of scenario.expected.alerts) {
          const actual = harness.alerts().find((a) => alertKey(a) === alertKey(expected));
          expect(actual, `missing ${alertKey(expected)}`).toBeDefined();
          expect(actual?.publishedAt).toBeGreaterThanOrEqual(expected.earliest);
          expect(actual?.publishedAt).toBeLessThanOrEqual(expected.earliest + ALERT_SLACK_MS);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('matches the oracle when checks are delayed like SQS (whole seconds, at most 15 minutes)', async () => {
    await fc.assert(
      fc.asyncProperty(fleetPlanArb(), async (plans) => {
        // Arrange
        const scenario = scenarioFromPlans(plans);
        // Act
        const harness = await replay(scenario.lines, {
          scheduler: { roundUpMs: 1_000, maxDelayMs: 900_000 },
        });
        // Assert
        expect(discrepancies(harness, scenario)).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('alerts on clean ends too when alertOn is all', async () => {
    const oracle: OracleOptions = { alertOn: 'all' };
    const settings: Partial<PresenceSettings> = { alertOn: 'all' };
    await fc.assert(
      fc.asyncProperty(fleetPlanArb(), async (plans) => {
        // Arrange
        const scenario = scenarioFromPlans(plans, oracle);
        // Act
        const harness = await replay(scenario.lines, { settings });
        // Assert
        expect(discrepancies(harness, scenario)).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('reaches the same final states when lines arrive reordered within seconds, in batches, with extra copies', async () => {
    await fc.assert(
      fc.asyncProperty(fleetPlanArb(), fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (plans, seed) => {
        // Arrange
        const scenario = scenarioFromPlans(plans);
        const random = seededRandom(seed);
        const noisy = scenario.lines.flatMap((line) => {
          const copies = [{ line, processAt: line.at + Math.floor(random() * 3_000) }];
          if (random() < 0.3) {
            const at = line.at + Math.floor(random() * 2_000);
            copies.push({ line: { at, deviceEvent: redelivered(line.deviceEvent, at) }, processAt: at });
          }
          return copies;
        });
        noisy.sort((a, b) => a.processAt - b.processAt);
        const baseline = await replay(scenario.lines);
        // Act
        const harness = new VirtualFleetHarness();
        for (let i = 0; i < noisy.length; ) {
          const first = noisy[i]?.processAt ?? 0;
          const batch = [];
          while (
            i < noisy.length &&
            (noisy[i]?.processAt ?? 0) <= first + 2_000 &&
            batch.length < 1 + (seed % 7)
          ) {
            batch.push(noisy[i]);
            i += 1;
          }
          const lines = batch.flatMap((b) => (b ? [b.line] : []));
          await harness.deliverBatch(lines, Math.max(...batch.map((b) => b?.processAt ?? 0)));
        }
        await harness.finish();
        // Assert
        expect(finalStates(harness)).toEqual(finalStates(baseline));
        expect(finalStates(harness)).toEqual(expectedStates(scenario.expected));
        expect(harness.alerts().map(alertKey).sort()).toEqual(scenario.expected.alerts.map(alertKey).sort());
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('writes traces that the ingest parsers turn back into the same events', () => {
    fc.assert(
      fc.property(fleetPlanArb(), (plans) => {
        // Arrange
        const scenario = scenarioFromPlans(plans);
        // Act
        const parsed = toTraceLines(scenario.histories).map((line) => parseTraceLine(line));
        // Assert
        expect(parsed).toEqual(scenario.lines.map((line) => ({ ok: true, event: line.deviceEvent })));
      }),
      { numRuns: 50 },
    );
  });

  it('keeps the oracle outcome when the device record prunes old sessions', async () => {
    // The record keeps only the newest sessions (maxSessions) and the cursor's; that must never change an outcome.
    await fc.assert(
      // Shrinking is capped: while the domain fails this property, a full shrink can take tens of seconds.
      fc.asyncProperty(
        fc.limitShrink(fleetPlanArb({ maxDevices: 2, minSessions: 4, maxSessions: 8 }), 40),
        async (plans) => {
          // Arrange
          const scenario = scenarioFromPlans(plans);
          // Act
          const harness = await replay(scenario.lines, { settings: { maxSessions: 3 } });
          // Assert
          expect(discrepancies(harness, scenario)).toEqual([]);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('does not re-decide a flap as an outage after the session that ended it is pruned', async () => {
    // Arrange: A has an outage (offline A, online B); B then flaps to C within 30 s; 12 more short sessions follow,
    // each ended cleanly and followed 30 s later by the next one. Only offline A and online B are owed.
    const deviceId = 'thing-prune';
    const lines: DeliveryLine[] = [];
    const on = (sid: string, v: number, at: number) =>
      lines.push({
        at,
        deviceEvent: connectedEvent({ deviceId, sessionIdentifier: sid, versionNumber: v, receivedAt: at }),
      });
    const off = (
      sid: string,
      v: number,
      at: number,
      reason: 'CONNECTION_LOST' | 'CLIENT_INITIATED_DISCONNECT',
    ) =>
      lines.push({
        at,
        deviceEvent: disconnectedEvent({
          deviceId,
          sessionIdentifier: sid,
          versionNumber: v,
          receivedAt: at,
          disconnectReason: reason,
        }),
      });
    const t0 = 1_793_520_000_000;
    on('A', 1, t0);
    off('A', 1, t0 + 60_000, 'CONNECTION_LOST');
    on('B', 2, t0 + 600_000);
    off('B', 2, t0 + 660_000, 'CONNECTION_LOST');
    let t = t0 + 690_000;
    for (let v = 3; v <= 16; v += 1) {
      on(`S${v}`, v, t);
      off(`S${v}`, v, t + 60_000, 'CLIENT_INITIATED_DISCONNECT');
      t += 90_000;
    }
    // Act
    const harness = await replay(lines);
    // Assert
    expect(harness.alerts().map((a) => `${a.type} ${a.sessionIdentifier}`)).toEqual([
      'offline A',
      'online B',
    ]);
  });

  it('does not turn the will of a pruned session into a phantom outage', async () => {
    // Arrange: A drops with a will and B reconnects 30 s later (a flap); then 13 short sessions, each ended cleanly
    // and followed 30 s later by the next one. Nothing is owed: no alert at all.
    const deviceId = 'thing-orphan-will';
    const t0 = 1_793_520_000_000;
    const lines: DeliveryLine[] = [
      {
        at: t0,
        deviceEvent: connectedEvent({ deviceId, sessionIdentifier: 'A', versionNumber: 1, receivedAt: t0 }),
      },
      { at: t0 + 60_000, deviceEvent: willEvent({ deviceId, receivedAt: t0 + 60_000 }) },
      {
        at: t0 + 60_500,
        deviceEvent: disconnectedEvent({
          deviceId,
          sessionIdentifier: 'A',
          versionNumber: 1,
          receivedAt: t0 + 60_500,
          disconnectReason: 'CONNECTION_LOST',
        }),
      },
    ];
    let t = t0 + 90_000;
    for (let v = 2; v <= 15; v += 1) {
      lines.push({
        at: t,
        deviceEvent: connectedEvent({
          deviceId,
          sessionIdentifier: `S${v}`,
          versionNumber: v,
          receivedAt: t,
        }),
      });
      const end = t + 60_000;
      lines.push({
        at: end,
        deviceEvent: disconnectedEvent({
          deviceId,
          sessionIdentifier: `S${v}`,
          versionNumber: v,
          receivedAt: end,
          disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
        }),
      });
      t = end + 30_000;
    }
    // Act
    const harness = await replay(lines);
    // Assert
    expect(harness.alerts().map((a) => `${a.type} ${a.sessionIdentifier}`)).toEqual([]);
    expect(harness.view(deviceId)).toMatchObject({ status: 'disconnected', sessionIdentifier: 'S15' });
  });

  it('replays a deterministic 20,000-line fleet trace to the oracle outcome', async () => {
    // Arrange
    const trace = generateFleetTrace({ devices: 70, hours: 24, seed: 7 });
    const again = generateFleetTrace({ devices: 70, hours: 24, seed: 7 });
    // Act
    const harness = await replay(trace.deliveries);
    // Assert
    expect(again.lines).toEqual(trace.lines);
    expect(trace.lines.length).toBeGreaterThan(15_000);
    expect(trace.lines.length).toBeLessThan(25_000);
    const scenario: Scenario = {
      plans: [],
      histories: trace.histories,
      lines: trace.deliveries,
      expected: trace.expected,
    };
    const problems = discrepancies(harness, scenario);
    expect(problems.length, problems.slice(0, 3).join('\n\n')).toBe(0);
  });
});

describe('in-memory ports', () => {
  it('rejects a commit whose expected revision is stale and retries in the reconciler', async () => {
    // Arrange
    const harness = new VirtualFleetHarness({ startAt: 1_000 });
    await harness.deliver({
      at: 1_000,
      deviceEvent: connectedEvent({
        deviceId: 'd',
        sessionIdentifier: 's1',
        versionNumber: 1,
        receivedAt: 1_000,
      }),
    });
    const stored = await harness.store.load('d');
    // Act
    const result = await harness.store.commit({
      deviceId: 'd',
      facts: stored!.facts,
      expectedRevision: (stored?.revision ?? 0) - 1,
      alerts: [],
      now: 2_000,
    });
    // Assert
    expect(result).toEqual({ status: 'conflict' });
  });

  it('records an alert in the ledger once and returns it as new only the first time', async () => {
    // Arrange
    const harness = new VirtualFleetHarness({ startAt: 0 });
    const deviceId = 'd';
    await harness.deliver({
      at: 0,
      deviceEvent: connectedEvent({ deviceId, sessionIdentifier: 's1', versionNumber: 1, receivedAt: 0 }),
    });
    await harness.deliver({
      at: 10_000,
      deviceEvent: disconnectedEvent({
        deviceId,
        sessionIdentifier: 's1',
        versionNumber: 1,
        receivedAt: 10_000,
        disconnectReason: 'CONNECTION_LOST',
      }),
    });
    await harness.finish();
    const alert = harness.alerts()[0]?.alert;
    const stored = await harness.store.load(deviceId);
    // Act
    const again = await harness.store.commit({
      deviceId,
      facts: stored!.facts,
      cursor: stored?.cursor,
      expectedRevision: stored?.revision,
      alerts: alert ? [alert] : [],
      now: 500_000,
    });
    // Assert
    expect(alert?.type).toBe('offline');
    expect(again).toEqual({ status: 'committed', newAlerts: [] });
  });

  it('keeps an alert whose publish failed unsent until the sweep publishes it', async () => {
    // Arrange
    let fail = true;
    const harness = new VirtualFleetHarness({ failureProbability: 0.5, random: () => (fail ? 0 : 0.99) });
    await harness.deliver({
      at: 0,
      deviceEvent: disconnectedEvent({
        deviceId: 'd',
        sessionIdentifier: 's1',
        versionNumber: 1,
        receivedAt: 0,
        disconnectReason: 'CONNECTION_LOST',
      }),
    });
    await harness.finish();
    expect(harness.alerts()).toEqual([]);
    expect(harness.ledger.unsent()).toHaveLength(1);
    // Act
    fail = false;
    const early = await harness.sweep();
    await harness.advanceTo(harness.clock.now() + 30_000);
    const onTime = await harness.sweep();
    // Assert
    expect(early.retried).toBe(0);
    expect(onTime.retried).toBe(1);
    expect(harness.alerts().map((a) => a.type)).toEqual(['offline']);
    expect(harness.ledger.unsent()).toEqual([]);
  });
});
