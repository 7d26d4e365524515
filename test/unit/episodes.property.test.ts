import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualFleetHarness } from '../../src/local/in-memory-ports.js';
import {
  AWS_DELIVERY,
  type DevicePlan,
  expectedOutcome,
  MINUTE,
  type SessionPlan,
  scenarioFromPlan,
} from '../fixtures/aws-model/index.js';

/**
 * The episode rules at their boundaries, on histories delivered as AWS delivers them (late, duplicated,
 * reordered, timestamps off by minutes): 2 versus 3 takeovers within 5 minutes, 5 versus 6 returns within an hour.
 */

const session = (overrides: Partial<SessionPlan>): SessionPlan => ({
  durationMs: 30_000,
  end: 'abrupt',
  abruptReason: 'CONNECTION_LOST',
  gap: { kind: 'flap', ms: 10_000 },
  fightMs: [],
  connectFailedBefore: false,
  ...overrides,
});

function plan(sessions: SessionPlan[], seed: number, persistent: boolean): DevicePlan {
  return {
    deviceId: 'thing-episode',
    startOffsetMs: 0,
    firstVersion: 3,
    alreadyOnline: false,
    lastOpen: true,
    persistentSessionTtlMs: persistent ? 2 * 60 * MINUTE : undefined,
    sessions,
    deliverySeed: seed,
  };
}

async function episodeAlerts(device: DevicePlan) {
  const scenario = scenarioFromPlan({ devices: [device], storms: [], delivery: AWS_DELIVERY });
  const harness = new VirtualFleetHarness();
  await harness.deliverAll(scenario.lines);
  await harness.finish();
  const published = harness.alerts().filter((a) => a.type === 'clientid-conflict' || a.type === 'flapping');
  return { published, scenario };
}

const deliverySeed = fc.integer({ min: 1, max: 2 ** 31 - 1 });

describe('clientid-conflict alerts', () => {
  it.each([
    [1, 0],
    [2, 0],
    [3, 1],
    [8, 1],
  ])(
    '%i takeovers within five minutes give %i alert(s), whatever the deliveries',
    async (takeovers, alerts) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 5_000, max: 30_000 }), { minLength: takeovers, maxLength: takeovers }),
          deliverySeed,
          fc.boolean(),
          async (holds, seed, persistent) => {
            // Arrange: each connection is taken over by the next one (DUPLICATE_CLIENTID), all within 4 minutes.
            const sessions = holds.map((durationMs) => session({ durationMs, end: 'takeover' }));
            sessions.push(session({ durationMs: 10 * MINUTE, end: 'clean' }));
            // Act
            const { published, scenario } = await episodeAlerts(plan(sessions, seed, persistent));
            // Assert
            expect(published.filter((a) => a.type === 'clientid-conflict')).toHaveLength(alerts);
            expect(scenario.expected.episodes).toHaveLength(alerts);
            expect(published.map((a) => a.since)).toEqual(scenario.expected.episodes.map((e) => e.since));
          },
        ),
        { numRuns: 25 },
      );
    },
  );

  it('names the principals and addresses of both devices of a fight, and alerts once per fight', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 2_000, max: 25_000 }), { minLength: 3, maxLength: 60 }),
        fc.integer({ min: 20 * MINUTE, max: 3 * 60 * MINUTE }),
        deliverySeed,
        async (fightMs, pauseMs, seed) => {
          // Arrange: two fights separated by much more than a window of peace.
          const fight = session({ end: 'fight', fightMs });
          const calm = session({
            durationMs: pauseMs,
            end: 'clean',
            gap: { kind: 'outage', ms: 5 * MINUTE },
          });
          const device = plan([fight, calm, fight, calm], seed, false);
          // Act
          const { published, scenario } = await episodeAlerts(device);
          // Assert
          const conflicts = published.filter((a) => a.type === 'clientid-conflict');
          expect(conflicts).toHaveLength(2);
          expect(conflicts.map((a) => a.since)).toEqual(scenario.expected.episodes.map((e) => e.since));
          const connections = scenario.histories[0]?.connections ?? [];
          const principals = new Set(connections.map((c) => c.principalIdentifier));
          const addresses = new Set(connections.map((c) => c.ipAddress));
          for (const alert of conflicts) {
            expect(alert.alert.count).toBe(3);
            // Every disconnected event names its principal: both devices are always named.
            expect(new Set(alert.alert.principals)).toEqual(principals);
            // Addresses come only with connected events, which may still be on their way when the rule is met.
            expect(alert.alert.ipAddresses?.length).toBeGreaterThanOrEqual(1);
            for (const ip of alert.alert.ipAddresses ?? []) expect(addresses.has(ip)).toBe(true);
          }
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe('flapping alerts', () => {
  it.each([
    [5, 0],
    [6, 1],
    [20, 1],
  ])('%i drops the device came back from within W, in an hour, give %i alert(s)', async (drops, alerts) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            durationMs: fc.integer({ min: 20_000, max: 4 * MINUTE }),
            gapMs: fc.integer({ min: 0, max: 100_000 }),
            reason: fc.constantFrom(
              'CONNECTION_LOST',
              'MQTT_KEEP_ALIVE_TIMEOUT',
              'SERVER_INITIATED_DISCONNECT',
            ),
          }),
          { minLength: drops, maxLength: drops },
        ),
        deliverySeed,
        async (steps, seed) => {
          // Arrange: abrupt drops, each followed by a return well within W (120 s), all within 50 minutes.
          const sessions = steps.map(({ durationMs, gapMs, reason }) =>
            session({
              durationMs: drops > 6 ? 20_000 : durationMs,
              abruptReason: reason as SessionPlan['abruptReason'],
              gap: { kind: 'flap', ms: gapMs },
            }),
          );
          sessions.push(session({ durationMs: 10 * MINUTE, end: 'clean' }));
          // Act
          const { published, scenario } = await episodeAlerts(plan(sessions, seed, false));
          // Assert
          const flapping = published.filter((a) => a.type === 'flapping');
          expect(flapping).toHaveLength(alerts);
          expect(flapping.map((a) => a.since)).toEqual(scenario.expected.episodes.map((e) => e.since));
          for (const alert of flapping) {
            expect(alert.alert.count).toBe(6);
            expect(alert.alert.medianGapMs).toBeLessThan(120_000);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('never counts takeovers, clean disconnects or outages, however many', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.constant(session({ end: 'takeover', durationMs: 70_000 })),
            fc.constant(session({ end: 'clean', gap: { kind: 'flap', ms: 5_000 } })),
            fc.constant(session({ gap: { kind: 'outage', ms: 4 * MINUTE } })),
          ),
          { minLength: 6, maxLength: 30 },
        ),
        deliverySeed,
        async (sessions, seed) => {
          // Act
          const { published } = await episodeAlerts(plan(sessions, seed, false));
          // Assert
          expect(published.filter((a) => a.type === 'flapping')).toEqual([]);
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('the episode oracle', () => {
  it('is computed from the true history, not from the code: a lone takeover and a blip count for nothing', () => {
    // Arrange
    const device = plan([session({ end: 'takeover' }), session({ end: 'abrupt' })], 7, false);
    const scenario = scenarioFromPlan({ devices: [device], storms: [], delivery: AWS_DELIVERY });
    // Act
    const outcome = expectedOutcome(scenario.histories, scenario.deliveries);
    // Assert
    expect(outcome.episodes).toEqual([]);
  });
});
