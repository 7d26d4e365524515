import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFleetSimulation, SCENARIOS } from '../../src/local/fleet-simulator.js';
import type { LocalStack } from '../../src/local/local-stack.js';
import { AlertInbox, startTestStack } from '../fixtures/local-stack.js';

const W_SECONDS = 4;

let stack: LocalStack;
const inbox = new AlertInbox();

beforeAll(async () => {
  // A fleet-wide outage of the simulator's 14 to 20 devices makes an incident at 10 (25 when deployed).
  stack = await startTestStack(W_SECONDS, inbox, { FLEET_OUTAGE_MIN_DEVICES: '10' });
});

afterAll(async () => {
  await stack?.stop();
});

describe('the fleet simulator against the local stack', () => {
  it('finds every device and every alert as the scenarios it played predict (20 devices, 30 s, W = 4 s)', async () => {
    // Arrange
    const lines: string[] = [];

    // Act
    const result = await runFleetSimulation({
      mqttUrl: stack.mqttUrl,
      apiUrl: stack.httpUrl,
      devices: 20,
      durationSeconds: 30,
      seed: 7,
      settleWindowSeconds: W_SECONDS,
      keepaliveSeconds: 2,
      prefix: 'sim-test-',
      dropAllClients: () => stack.broker.dropAllClients(),
      log: (line) => lines.push(line),
    });

    // Assert
    const wrong = result.reports.filter((report) => !report.correct);
    expect(wrong, lines.join('\n')).toEqual([]);
    expect(result.fleetOutageDevices).toBe(20);
    expect(result.problems, lines.join('\n')).toEqual([]);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.devicesCorrect).toBe(20);
    expect(result.storm).toBe('broker-drop');
    for (const kind of SCENARIOS) expect(result.scenarios[kind]).toBeGreaterThan(0);
    expect(result.alerts.expected).toBeGreaterThan(0);
    expect(result.alerts).toMatchObject({ received: result.alerts.expected, missing: 0, unexpected: 0 });
    // The operator's subscription saw the same alerts the ledger lists.
    expect(inbox.alerts.filter((alert) => String(alert.deviceId).startsWith('sim-test-'))).toHaveLength(
      result.alerts.received,
    );
    expect(lines.at(-1)).toMatch(/^result: OK/);
    expect(lines.some((line) => /^estimated duration: about (\d+ min )?\d+ s/.test(line))).toBe(true);
    expect(lines.filter((line) => line.startsWith('progress: ')).length).toBeGreaterThan(0);
  }, 150_000);

  it('refuses to run, naming both values, when its W differs from the W the stack reports on GET /health', async () => {
    // Act
    const run = runFleetSimulation({
      mqttUrl: stack.mqttUrl,
      apiUrl: stack.httpUrl,
      devices: 1,
      durationSeconds: 1,
      settleWindowSeconds: W_SECONDS + 1,
      prefix: 'sim-wrong-w-',
      log: () => undefined,
    });

    // Assert
    await expect(run).rejects.toThrow(
      `runs with W = ${W_SECONDS} s (GET /health) and this simulation with W = ${W_SECONDS + 1} s`,
    );
  });

  it('plays every scenario kind in quick mode, on a schedule planned within the 2W + 46 s the docs state with a fleet outage, reading W from the stack', async () => {
    // Arrange
    const lines: string[] = [];

    // Act
    const result = await runFleetSimulation({
      mqttUrl: stack.mqttUrl,
      apiUrl: stack.httpUrl,
      devices: 14,
      durationSeconds: 5,
      seed: 3,
      quick: true,
      keepaliveSeconds: 2,
      prefix: 'sim-quick-',
      progressEverySeconds: 2,
      log: (line) => lines.push(line),
    });

    // Assert
    expect(result.ok, lines.join('\n')).toBe(true);
    for (const kind of SCENARIOS) expect(result.scenarios[kind]).toBeGreaterThan(0);
    expect(result.settleWindowSeconds).toBe(W_SECONDS);
    // The plan, not the wall clock (a loaded machine only makes the run later): docs/local-stack.md states it.
    const [, minutes, seconds] =
      /^estimated duration: about (?:(\d+) min )?(\d+) s/m.exec(lines.join('\n')) ?? [];
    const estimate = Number(minutes ?? 0) * 60 + Number(seconds);
    expect(result.fleetOutageDevices).toBe(14);
    expect(estimate).toBeLessThanOrEqual(2 * W_SECONDS + 46);
    expect(lines.filter((line) => line.startsWith('progress: ')).length).toBeGreaterThan(0);
  }, 120_000);
});
