import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PUBLISH_LEASE_MS } from '../../src/domain/reconciler.js';
import type { PresenceSettings } from '../../src/domain/settings.js';
import {
  connectedEvent,
  type DeliveryLine,
  disconnectedEvent,
  type HarnessOptions,
  VirtualFleetHarness,
  willEvent,
} from '../../src/local/in-memory-ports.js';
import {
  describeHistory,
  FLEET_PROFILES,
  type FleetProfile,
  fleetPlanArb,
  generateFleetTrace,
  HOUR,
  MINUTE,
  type ModelOptions,
  type OracleOptions,
  type Scenario,
  scenarioFromPlan,
  seededRandom,
} from '../fixtures/aws-model/index.js';

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

const alertKey = (a: { type: string; deviceId: string; sessionIdentifier: string; versionNumber?: number }) =>
  `${a.deviceId} ${a.type} ${a.sessionIdentifier}/${a.versionNumber}`;
/** Episodes are named by when their rule was first met. */
const episodeKey = (a: { type: string; deviceId: string; since: number }) =>
  `${a.deviceId} ${a.type} at ${a.since}`;
const isEpisode = (a: { type: string }) => a.type === 'clientid-conflict' || a.type === 'flapping';

/** Every way the replay differs from the oracle; empty when it matches. */
/**
 * `episodeToleranceMs`: when events are processed out of their receive order, the mark at which the code first sees
 * an episode's rule met may be a later one than the oracle's (an earlier end processed after it): the episode is
 * still alerted once, named by a time at most this far from the oracle's.
 */
function discrepancies(
  harness: VirtualFleetHarness,
  scenario: Pick<Scenario, 'expected' | 'histories'>,
  episodeToleranceMs = 0,
): string[] {
  const problems: string[] = [];
  const t0 = scenario.histories[0]?.connections[0]?.startedAt ?? 0;
  const story = (deviceId: string) => {
    const history = scenario.histories.find((h) => h.deviceId === deviceId);
    return history ? `\n${describeHistory(history, t0)}` : '';
  };
  const wanted = new Map(scenario.expected.devices.map((d) => [d.deviceId, d]));
  for (const deviceId of new Set([...harness.deviceIds(), ...wanted.keys()])) {
    const view = harness.view(deviceId);
    const expected = wanted.get(deviceId);
    const actual = view && `${view.status} ${view.sessionIdentifier}/${view.versionNumber}`;
    const want = expected && `${expected.status} ${expected.sessionIdentifier}/${expected.versionNumber}`;
    if (actual !== want)
      problems.push(`state of ${deviceId}: expected ${want}, got ${actual}${story(deviceId)}`);
    if (view && !view.settled) problems.push(`${deviceId} is still unsettled at the end`);
  }
  const everything = harness.alerts();
  const published = everything.filter((alert) => !isEpisode(alert));
  const counts = new Map<string, number>();
  for (const alert of everything) {
    const key = isEpisode(alert) ? episodeKey(alert) : alertKey(alert);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const [key, count] of counts) if (count > 1) problems.push(`alert published ${count} times: ${key}`);
  for (const expected of scenario.expected.alerts) {
    const actual = published.find((a) => alertKey(a) === alertKey(expected));
    if (!actual) {
      problems.push(`missing alert ${alertKey(expected)}${story(expected.deviceId)}`);
    } else if (
      actual.publishedAt < expected.earliest ||
      actual.publishedAt > expected.earliest + ALERT_SLACK_MS
    ) {
      problems.push(
        `alert ${alertKey(expected)} published ${actual.publishedAt - expected.earliest} ms from the earliest allowed`,
      );
    }
  }
  for (const actual of published) {
    if (!scenario.expected.alerts.some((e) => alertKey(e) === alertKey(actual))) {
      problems.push(`unexpected alert ${alertKey(actual)}${story(actual.deviceId)}`);
    }
  }
  const episodes = everything.filter(isEpisode);
  const matched = new Set<(typeof episodes)[number]>();
  const near = (actual: (typeof episodes)[number], expected: (typeof scenario.expected.episodes)[number]) =>
    actual.deviceId === expected.deviceId &&
    actual.type === expected.type &&
    Math.abs(actual.since - expected.since) <= episodeToleranceMs;
  for (const expected of scenario.expected.episodes) {
    const actual = episodes.find((a) => !matched.has(a) && near(a, expected));
    if (!actual) {
      problems.push(`missing ${episodeKey(expected)}${story(expected.deviceId)}`);
      continue;
    }
    matched.add(actual);
    if (actual.publishedAt < actual.since || actual.publishedAt > actual.since + ALERT_SLACK_MS) {
      problems.push(
        `${episodeKey(actual)} published ${actual.publishedAt - actual.since} ms after its rule was met`,
      );
    }
  }
  for (const actual of episodes) {
    if (!matched.has(actual)) problems.push(`unexpected ${episodeKey(actual)}${story(actual.deviceId)}`);
  }
  if (harness.unsent().length > 0) problems.push(`${harness.unsent().length} alerts left unsent`);
  return problems;
}

const PROFILES = Object.keys(FLEET_PROFILES) as FleetProfile[];

describe('Reconciler replaying histories delivered as AWS delivers them', () => {
  it.each(PROFILES)(
    'gives every device of a %s fleet its true state and exactly the owed alerts, on time',
    async (profile) => {
      const options: ModelOptions = FLEET_PROFILES[profile];
      await fc.assert(
        fc.asyncProperty(fleetPlanArb(options), async (fleet) => {
          // Arrange
          const scenario = scenarioFromPlan(fleet);
          // Act
          const harness = await replay(scenario.lines);
          // Assert
          expect(discrepancies(harness, scenario)).toEqual([]);
        }),
        { numRuns: 40 },
      );
    },
  );

  it('changes nothing when wills are removed, or delivered again at any time, any number of times', async () => {
    await fc.assert(
      fc.asyncProperty(
        fleetPlanArb(FLEET_PROFILES.mixed),
        fc.array(fc.record({ device: fc.nat(), afterMs: fc.integer({ min: 0, max: 3 * HOUR }) }), {
          maxLength: 30,
        }),
        async (fleet, strayWills) => {
          // Arrange
          const scenario = scenarioFromPlan(fleet);
          const withoutWills = scenario.lines.filter((line) => line.deviceEvent.kind !== 'will');
          // A device is a presence device from its first presence event on: stray wills come after it.
          const firstPresence = new Map<string, number>();
          for (const { at, deviceEvent } of scenario.lines) {
            if (deviceEvent.kind === 'connected' || deviceEvent.kind === 'disconnected') {
              if (!firstPresence.has(deviceEvent.deviceId)) firstPresence.set(deviceEvent.deviceId, at);
            }
          }
          const ids = [...firstPresence.keys()];
          const extra: DeliveryLine[] = strayWills.flatMap(({ device, afterMs }) => {
            const deviceId = ids[device % Math.max(1, ids.length)];
            if (deviceId === undefined) return [];
            const at = (firstPresence.get(deviceId) as number) + afterMs;
            return [{ at, deviceEvent: willEvent({ deviceId, receivedAt: at }) }];
          });
          const flooded = [...scenario.lines, ...extra].sort((a, b) => a.at - b.at);
          // Act
          const plain = await replay(withoutWills);
          const noisy = await replay(flooded);
          // Assert
          expect(discrepancies(plain, scenario)).toEqual([]);
          expect(discrepancies(noisy, scenario)).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('matches the oracle when checks are delayed like SQS (whole seconds, at most 15 minutes)', async () => {
    await fc.assert(
      fc.asyncProperty(fleetPlanArb(FLEET_PROFILES.mixed), async (fleet) => {
        // Arrange
        const scenario = scenarioFromPlan(fleet);
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
      fc.asyncProperty(fleetPlanArb(FLEET_PROFILES.mixed), async (fleet) => {
        // Arrange
        const scenario = scenarioFromPlan(fleet, oracle);
        // Act
        const harness = await replay(scenario.lines, { settings });
        // Assert
        expect(discrepancies(harness, scenario)).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('reaches the oracle outcome when deliveries are processed late by seconds, in stream batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fleetPlanArb(FLEET_PROFILES.mixed),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        async (fleet, seed) => {
          // Arrange
          const scenario = scenarioFromPlan(fleet);
          const random = seededRandom(seed);
          const noisy = scenario.lines
            .map((line) => ({ line, processAt: line.at + Math.floor(random() * 3_000) }))
            .sort((a, b) => a.processAt - b.processAt);
          // Act
          const harness = new VirtualFleetHarness();
          for (let i = 0; i < noisy.length; ) {
            const first = noisy[i]?.processAt ?? 0;
            const batch: typeof noisy = [];
            while (
              i < noisy.length &&
              (noisy[i]?.processAt ?? 0) <= first + 1_000 &&
              batch.length < 1 + (seed % 7)
            ) {
              batch.push(noisy[i] as (typeof noisy)[number]);
              i += 1;
            }
            await harness.deliverBatch(
              batch.map((b) => b.line),
              Math.max(...batch.map((b) => b.processAt)),
            );
          }
          await harness.finish();
          // Assert
          const problems = discrepancies(harness, scenario, 3_000).filter((p) => !p.includes('published'));
          expect(problems).toEqual([]);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('reaches the oracle outcome when throttled ingest delivers some events hours late, out of order', async () => {
    // Lambda retries a throttled asynchronous invocation for up to the maximum event age (6 hours): the event keeps
    // the receive time the rule gave it, and reaches the reconciler that much later, after newer events.
    const MAX_EVENT_AGE_MS = 6 * HOUR;
    await fc.assert(
      fc.asyncProperty(
        fleetPlanArb(FLEET_PROFILES.mixed),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.double({ min: 0.05, max: 0.5, noNaN: true }),
        async (fleet, seed, throttledShare) => {
          // Arrange
          const scenario = scenarioFromPlan(fleet);
          const random = seededRandom(seed);
          const late = scenario.lines
            .map((line) => {
              const throttled = random() < throttledShare;
              const delay = throttled ? Math.floor(random() * MAX_EVENT_AGE_MS) : 0;
              return { line, processAt: line.at + delay };
            })
            .sort((a, b) => a.processAt - b.processAt);
          // Act: each at its own time, as the stream delivers a retried invocation's event.
          const harness = new VirtualFleetHarness();
          for (const { line, processAt } of late) await harness.deliverBatch([line], processAt);
          await harness.finish();
          // Assert: every device ends true and settled, nothing is left unsent, no alert is published twice, and
          // every alert is about a session the device had. Which alerts there are follows what the system could
          // know, in the order it learnt it: a return hours late is an outage it alerts on (offline, then online when
          // the return arrives); a drop that arrives after the return is no outage at all; an episode whose events
          // arrive hours apart is not seen as one.
          const problems = discrepancies(harness, scenario).filter(
            (p) =>
              /^(state of |alert published \d+ times|\d+ alerts left unsent)/.test(p) ||
              p.includes('unsettled'),
          );
          expect(problems).toEqual([]);
          const sessions = new Set(
            scenario.histories.flatMap((h) =>
              h.connections.map((c) => `${h.deviceId} ${c.sessionIdentifier}`),
            ),
          );
          // A will seen before any presence event of its session names the device's offline by the will.
          const strangers = harness
            .alerts()
            .filter(
              (a) =>
                !sessions.has(`${a.deviceId} ${a.sessionIdentifier}`) &&
                !a.sessionIdentifier.startsWith('will:'),
            );
          expect(strangers).toEqual([]);
          const ids = harness.publisher.published.map((p) => p.alert.alertId);
          expect(new Set(ids).size).toBe(ids.length);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('replays a deterministic 20,000-line mixed fleet day to the oracle outcome', async () => {
    // Arrange
    const trace = generateFleetTrace({ devices: 60, hours: 24, seed: 7, profile: 'mixed' });
    const again = generateFleetTrace({ devices: 60, hours: 24, seed: 7, profile: 'mixed' });
    // Act
    const harness = await replay(trace.deliveries);
    // Assert
    expect(again.lines).toEqual(trace.lines);
    expect(trace.lines.length).toBeGreaterThan(10_000);
    const problems = discrepancies(harness, trace);
    expect(problems.length, problems.slice(0, 3).join('\n\n')).toBe(0);
  });
});

describe('Reconciler keeping only what can still change an answer', () => {
  const deviceId = 'thing-bounded';
  const t0 = 1_793_520_000_000;
  const on = (sid: string, v: number, at: number): DeliveryLine => ({
    at,
    deviceEvent: connectedEvent({ deviceId, sessionIdentifier: sid, versionNumber: v, receivedAt: at }),
  });
  const off = (
    sid: string,
    v: number,
    at: number,
    reason: 'CONNECTION_LOST' | 'DUPLICATE_CLIENTID',
  ): DeliveryLine => ({
    at,
    deviceEvent: disconnectedEvent({
      deviceId,
      sessionIdentifier: sid,
      versionNumber: v,
      receivedAt: at,
      disconnectReason: reason,
    }),
  });
  const will = (at: number): DeliveryLine => ({ at, deviceEvent: willEvent({ deviceId, receivedAt: at }) });
  /** Replays the lines one by one, noting the largest stored record of the device. */
  const replayMeasuringRecord = async (lines: readonly DeliveryLine[]) => {
    const harness = new VirtualFleetHarness();
    let largest = 0;
    for (const line of lines) {
      await harness.deliver(line);
      largest = Math.max(largest, harness.store.peek(deviceId)?.bytes ?? 0);
    }
    await harness.finish();
    return { harness, largest };
  };

  it('stays exact and small through a fight of 200 takeovers in 10 minutes, wills delivered twice', async () => {
    // Arrange: two devices share one persistent session; each takeover ends the other's connection.
    const lines: DeliveryLine[] = [on('S', 0, t0)];
    let t = t0;
    for (let v = 0; v < 200; v += 1) {
      t += 3_000;
      lines.push(
        on('S', v + 1, t),
        off('S', v, t + 400, 'DUPLICATE_CLIENTID'),
        will(t + 200),
        will(t + 200 + 240_000),
      );
    }
    lines.push(off('S', 200, t + 60_000, 'CONNECTION_LOST'), will(t + 60_100));
    lines.sort((a, b) => a.at - b.at);
    // Act
    const { harness, largest } = await replayMeasuringRecord(lines);
    // Assert
    expect(harness.view(deviceId)).toMatchObject({
      status: 'disconnected',
      sessionIdentifier: 'S',
      versionNumber: 200,
    });
    // One clientid-conflict alert at the third takeover, however long the fight goes on.
    expect(harness.alerts().map(alertKey)).toEqual([
      `${deviceId} clientid-conflict S/2`,
      `${deviceId} offline S/200`,
    ]);
    expect(harness.alerts()[0]?.since).toBe(t0 + 9_400);
    // Mostly the eight unattached wills kept while their end may still come.
    // (and up to four checks still to come, one of them a lease's retry).
    expect(largest).toBeLessThan(2_150);
  });

  it('stays exact and small for a device that reconnects every 20 s for an hour, then has an outage', async () => {
    // Arrange
    const lines: DeliveryLine[] = [];
    let t = t0;
    for (let v = 0; v < 180; v += 1) {
      lines.push(on(`s${v}`, v, t), off(`s${v}`, v, t + 15_000, 'CONNECTION_LOST'), will(t + 15_100));
      t += 20_000;
    }
    lines.push(on('back', 180, t + 10 * MINUTE));
    // Act
    const { harness, largest } = await replayMeasuringRecord(lines);
    // Assert
    expect(harness.view(deviceId)).toMatchObject({ status: 'connected', sessionIdentifier: 'back' });
    // One flapping alert when the device is back from its sixth drop, none for the 174 that follow.
    expect(harness.alerts().map(alertKey)).toEqual([
      `${deviceId} flapping s5/5`,
      `${deviceId} offline s179/179`,
      `${deviceId} online back/180`,
    ]);
    expect(harness.alerts()[0]?.since).toBe(t0 + 120_000);
    expect(largest).toBeLessThan(2_000);
  });

  it('ignores a copy of an event of a connection it no longer keeps, delivered minutes later', async () => {
    // Arrange: A flaps to B; B is the device's connection for an hour; a copy of A's end comes 9 minutes later.
    const lines = [on('A', 1, t0), off('A', 1, t0 + 60_000, 'CONNECTION_LOST'), on('B', 2, t0 + 90_000)];
    const copy = off('A', 1, t0 + 60_000 + 9 * MINUTE, 'CONNECTION_LOST');
    const harness = await replay(lines);
    // Act
    await harness.deliver(copy);
    await harness.finish();
    // Assert
    expect(harness.store.peek(deviceId)?.facts.connections.map((c) => c.sessionIdentifier)).toEqual(['B']);
    expect(harness.view(deviceId)).toMatchObject({ status: 'connected', sessionIdentifier: 'B' });
    expect(harness.alerts()).toEqual([]);
  });
});

describe('Reconciler publishing from the device outbox', () => {
  const deviceId = 'd';
  const outage = (harness: VirtualFleetHarness) =>
    harness.deliverAll([
      {
        at: 0,
        deviceEvent: connectedEvent({ deviceId, sessionIdentifier: 's1', versionNumber: 1, receivedAt: 0 }),
      },
      {
        at: 10_000,
        deviceEvent: disconnectedEvent({
          deviceId,
          sessionIdentifier: 's1',
          versionNumber: 1,
          receivedAt: 10_000,
          disconnectReason: 'CONNECTION_LOST',
        }),
      },
    ]);

  it('rejects a commit whose expected revision is stale', async () => {
    // Arrange
    const harness = new VirtualFleetHarness({ startAt: 1_000 });
    await outage(harness);
    const stored = await harness.store.load(deviceId);
    // Act
    const result = await harness.store.commit({
      deviceId,
      facts: stored!.facts,
      outbox: [],
      expectedRevision: (stored?.revision ?? 0) - 1,
      now: 2_000,
    });
    // Assert
    expect(result).toEqual({ status: 'conflict' });
  });

  it('decides an alert once however many times the device is reconciled, and the next write leaves it out of the outbox', async () => {
    // Arrange
    const harness = new VirtualFleetHarness({ startAt: 0 });
    await outage(harness);
    await harness.finish();
    // Act
    for (let i = 1; i <= 5; i += 1) {
      await harness.advanceTo(130_000 + i * 60_000);
      await harness.reconciler.reconcile(deviceId, [], { arrivals: [undefined] });
    }
    const heldAfterLooks = harness.store.outboxAlerts().map((alert) => alert.alertId);
    await harness.deliverAll([
      {
        at: 500_000,
        deviceEvent: connectedEvent({
          deviceId,
          sessionIdentifier: 's2',
          versionNumber: 1,
          receivedAt: 500_000,
        }),
      },
    ]);
    // Assert: looks that change nothing write nothing; the write of the return leaves the published alert out.
    expect(harness.alerts().map((a) => a.alert.alertId)).toEqual(['d/offline/s1/1', 'd/online/s2/1']);
    expect(heldAfterLooks).toEqual(['d/offline/s1/1']);
    expect(harness.store.outboxAlerts().map((alert) => alert.alertId)).toEqual(['d/online/s2/1']);
    expect(harness.unsent()).toEqual([]);
    expect(await harness.history.has(harness.alerts()[0]!.alert)).toBe(true);
  });

  it('keeps an alert whose publish failed in the outbox until its lease ends, then the check asked for then publishes it', async () => {
    // Arrange: the check at W decides the offline alert, and its publish fails.
    let fail = true;
    const harness = new VirtualFleetHarness({ failureProbability: 0.5, random: () => (fail ? 0 : 0.99) });
    await outage(harness);
    const decidedAt = 10_000 + harness.settings.settleWindowMs;
    await harness.advanceTo(decidedAt + 1_000);
    expect(harness.alerts()).toEqual([]);
    expect(harness.unsent()).toHaveLength(1);
    // Act
    fail = false;
    await harness.advanceTo(decidedAt + PUBLISH_LEASE_MS - 1_000);
    const beforeLeaseEnds = harness.alerts().length;
    await harness.finish();
    // Assert: no sweep ran; the check at the lease's end took the entry over.
    expect(beforeLeaseEnds).toBe(0);
    expect(harness.alerts().map((a) => a.type)).toEqual(['offline']);
    expect(harness.unsent()).toEqual([]);
  });

  it('does not publish again an alert the outbox still holds once the history has it', async () => {
    // Arrange: the alert is published and in the history, and the outbox still holds it, its lease ended.
    const harness = new VirtualFleetHarness({ startAt: 0 });
    await outage(harness);
    await harness.finish();
    const published = harness.alerts()[0]!.alert;
    const { revision, ...stored } = (await harness.store.load(deviceId))!;
    await harness.store.commit({
      deviceId,
      ...stored,
      view: harness.view(deviceId),
      outbox: [{ alert: published, retryAt: harness.clock.now() }],
      expectedRevision: revision,
      now: harness.clock.now(),
    });
    // Act
    await harness.advanceTo(harness.clock.now() + 1_000);
    const looked = await harness.reconciler.reconcile(deviceId);
    // Assert
    expect(looked).toMatchObject({ published: 0, written: false });
    expect(harness.alerts()).toHaveLength(1);
    expect(harness.unsent()).toEqual([]);
  });
});
