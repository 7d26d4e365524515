import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type DeliveryLine, VirtualFleetHarness } from '../../src/local/in-memory-ports.js';
import { parseTraceLine, type TraceLine } from '../fixtures/aws-model/index.js';

/** The example shipped beside the project (../shared/examples), vendored so that a fresh clone tests it too. */
const examplesDir = fileURLToPath(new URL('../fixtures/examples/', import.meta.url));
const tracePath = `${examplesDir}small-fleet.trace.jsonl`;
const expectedPath = `${examplesDir}small-fleet.expected.json`;

interface ExpectedFile {
  devices: Array<{ deviceId: string; status: 'connected' | 'disconnected'; sessionIdentifier: string }>;
  alerts: Array<{
    type: 'offline' | 'online';
    deviceId: string;
    sessionIdentifier: string;
    publishedAt: number;
  }>;
}

const SETTLE_WINDOW_MS = 120_000;
const ALERT_SLACK_MS = 10_000;

/** Converts trace lines as the ingest handlers do; connect_failed events are stored but never reconciled. */
function toDeliveries(lines: readonly TraceLine[]): {
  deliveries: DeliveryLine[];
  rejected: string[];
  ignored: number;
} {
  const deliveries: DeliveryLine[] = [];
  const rejected: string[] = [];
  let ignored = 0;
  for (const line of lines) {
    const parsed = parseTraceLine(line);
    if (!parsed.ok) rejected.push(`${line.at} ${line.topic}: ${parsed.reason}`);
    else if (parsed.event.kind === 'connect_failed') ignored += 1;
    else deliveries.push({ at: line.at, deviceEvent: parsed.event });
  }
  return { deliveries, rejected, ignored };
}

async function replayAndCompare(lines: readonly TraceLine[], expected: ExpectedFile) {
  const { deliveries, rejected } = toDeliveries(lines);
  const harness = new VirtualFleetHarness({
    settings: { settleWindowMs: SETTLE_WINDOW_MS, alertOn: 'abrupt' },
  });
  await harness.deliverAll(deliveries);
  await harness.finish();
  const key = (a: { type: string; deviceId: string; sessionIdentifier: string }) =>
    `${a.deviceId} ${a.type} ${a.sessionIdentifier}`;
  return {
    rejected,
    states: harness.deviceIds().map((deviceId) => {
      const view = harness.view(deviceId);
      return { deviceId, status: view?.status, sessionIdentifier: view?.sessionIdentifier };
    }),
    expectedStates: [...expected.devices]
      .map(({ deviceId, status, sessionIdentifier }) => ({ deviceId, status, sessionIdentifier }))
      .sort((a, b) => a.deviceId.localeCompare(b.deviceId)),
    alertKeys: harness.alerts().map(key).sort(),
    expectedAlertKeys: expected.alerts.map(key).sort(),
    lateOrEarly: expected.alerts.flatMap((e) => {
      const actual = harness.alerts().find((a) => key(a) === key(e));
      if (!actual) return [];
      const offset = actual.publishedAt - e.publishedAt;
      return offset >= 0 && offset <= ALERT_SLACK_MS
        ? []
        : [`${key(e)} published ${offset} ms from expected`];
    }),
  };
}

describe('small-fleet example trace', () => {
  it('replays to the expected device states and exactly the expected alerts', async () => {
    // Arrange
    const lines = readFileSync(tracePath, 'utf8')
      .split('\n')
      .filter((line) => line.trim().length > 0)
      .map((line) => JSON.parse(line) as TraceLine);
    const expected = JSON.parse(readFileSync(expectedPath, 'utf8')) as ExpectedFile;

    // Act
    const result = await replayAndCompare(lines, expected);
    // Assert
    expect(result.rejected).toEqual([]);
    expect(result.expectedAlertKeys.length).toBeGreaterThan(0);
    expect(result.states).toEqual(result.expectedStates);
    expect(result.alertKeys).toEqual(result.expectedAlertKeys);
    expect(result.lateOrEarly).toEqual([]);
  });

  it('ignores connect_failed events, which carry no versionNumber', () => {
    // Arrange
    const line: TraceLine = {
      at: 1_793_522_236_226,
      topic: '$aws/events/presence/connect_failed/thing-1-0007',
      payload: {
        clientId: 'thing-1-0007',
        timestamp: 1_793_522_248_177,
        eventType: 'connect_failed',
        connectFailureReason: 'AUTHORIZATION_FAILED',
        sessionIdentifier: '85d533d4-ac15-4fd0-a314-643ece578d5b',
      },
    };
    // Act
    const { deliveries, rejected, ignored } = toDeliveries([line]);
    // Assert
    expect(rejected).toEqual([]);
    expect(ignored).toBe(1);
    expect(deliveries).toEqual([]);
  });

  it('identifies a will by its receive time and payload, so a redelivery later is a new message', () => {
    // Arrange
    const will = (at: number): TraceLine => ({
      at,
      topic: 'devices/thing-1-0004/will',
      clientId: 'thing-1-0004',
      payload: { state: { reported: { last_will: 'yes', trigger_action: 'on', client_id: 'thing-1-0004' } } },
    });
    // Act
    const { deliveries } = toDeliveries([
      will(1_793_520_931_177),
      will(1_793_520_931_177),
      will(1_793_520_954_200),
    ]);
    // Assert
    const ids = deliveries.map((d) => d.deviceEvent.eventId);
    expect(ids[0]).toMatch(/^will:1793520931177:[0-9a-f]{16}$/);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
  });
});
