import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type HarnessOptions, VirtualFleetHarness } from '../../src/local/in-memory-ports.js';
import {
  describeHistory,
  expectedUptime,
  FLEET_PROFILES,
  type FleetProfile,
  fleetPlanArb,
  type Scenario,
  scenarioFromPlan,
} from '../fixtures/aws-model/index.js';

async function replay(scenario: Scenario, options: HarnessOptions = {}): Promise<VirtualFleetHarness> {
  const harness = new VirtualFleetHarness(options);
  await harness.deliverAll(scenario.lines);
  await harness.finish();
  return harness;
}

/** Every day on which a device's uptime report differs from the oracle's; empty when they agree. */
async function uptimeDiscrepancies(harness: VirtualFleetHarness, scenario: Scenario): Promise<string[]> {
  const now = harness.clock.now();
  const expected = expectedUptime(scenario.histories, scenario.deliveries, now);
  const problems: string[] = [];
  const t0 = scenario.histories[0]?.connections[0]?.startedAt ?? 0;
  for (const [deviceId, days] of expected) {
    const dates = [...days.keys()];
    const report = await harness.uptime(deviceId, { from: dates[0] as string, to: dates.at(-1) as string });
    for (const day of report?.days ?? []) {
      const want = days.get(day.date);
      const got = {
        connectedMs: day.connectedMs,
        disconnectedMs: day.disconnectedMs,
        outages: day.outages,
        longestOutageMs: day.longestOutageMs,
      };
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        const history = scenario.histories.find((h) => h.deviceId === deviceId);
        problems.push(
          `${deviceId} on ${day.date}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}\n${history ? describeHistory(history, t0) : ''}`,
        );
      }
    }
    if (!report) problems.push(`${deviceId}: no report`);
  }
  return problems;
}

const PROFILES = Object.keys(FLEET_PROFILES) as FleetProfile[];

describe('uptime per day, replaying histories delivered as AWS delivers them', () => {
  it.each(PROFILES)('matches the oracle for every device and day of a %s fleet', async (profile) => {
    await fc.assert(
      fc.asyncProperty(fleetPlanArb(FLEET_PROFILES[profile]), async (fleet) => {
        // Arrange
        const scenario = scenarioFromPlan(fleet);
        // Act
        const harness = await replay(scenario);
        // Assert
        expect(await uptimeDiscrepancies(harness, scenario)).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });
});
