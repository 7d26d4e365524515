import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ReplayResult, replayTrace } from '../../src/local/replay.js';

const DEVICES = Number(process.env.STORM_DEVICES ?? 5_000);
const T0 = Date.parse('2026-11-01T00:00:00Z');
const W = 120_000;

interface Line {
  at: number;
  topic: string;
  payload: unknown;
  clientId?: string;
}

const deviceId = (i: number) => `storm-${String(i).padStart(5, '0')}`;
const sid = (i: number, n: number) => `00000000-0000-4000-8000-${String(i * 10 + n).padStart(12, '0')}`;

function connected(i: number, n: number, at: number): Line {
  const clientId = deviceId(i);
  return {
    at,
    topic: `$aws/events/presence/connected/${clientId}`,
    payload: {
      clientId,
      timestamp: at - 500,
      eventType: 'connected',
      sessionIdentifier: sid(i, n),
      principalIdentifier: 'p',
      ipAddress: '10.0.0.1',
      versionNumber: n,
    },
  };
}

function disconnected(i: number, n: number, at: number, disconnectReason: string): Line {
  const clientId = deviceId(i);
  return {
    at,
    topic: `$aws/events/presence/disconnected/${clientId}`,
    payload: {
      clientId,
      timestamp: at - 300,
      eventType: 'disconnected',
      sessionIdentifier: sid(i, n),
      principalIdentifier: 'p',
      clientInitiatedDisconnect: false,
      disconnectReason,
      versionNumber: n,
    },
  };
}

function will(i: number, at: number): Line {
  const clientId = deviceId(i);
  return {
    at,
    topic: `devices/${clientId}/will`,
    clientId,
    payload: { state: { reported: { last_will: 'yes', client_id: clientId } } },
  };
}

/** A deterministic spread in [0, span). */
const spread = (i: number, span: number) => (((i * 7919) % 1000) / 1000) * span;

/** Every device online, then dropped at once; `reconnectWithin` undefined means they stay down. */
function storm(reason: string, reconnectWithin?: number): string[] {
  const lines: Line[] = [];
  const drop = T0 + 10 * 60_000;
  for (let i = 0; i < DEVICES; i += 1) {
    lines.push(connected(i, 0, T0 + spread(i, 60_000)));
    const at = drop + spread(i, 5_000);
    lines.push(disconnected(i, 0, at, reason), will(i, at + 150));
    if (reconnectWithin !== undefined)
      lines.push(connected(i, 1, at + 1_000 + spread(i + 13, reconnectWithin - 1_000)));
  }
  return lines.sort((a, b) => a.at - b.at).map((line) => JSON.stringify(line));
}

const results: Record<string, unknown> = {};

async function timedReplay(name: string, lines: string[]): Promise<ReplayResult> {
  const started = performance.now();
  const result = await replayTrace(lines, { countRequests: true });
  const seconds = (performance.now() - started) / 1000;
  const dynamo = Object.entries(result.requests ?? {}).filter(([k]) => k.startsWith('dynamodb.'));
  const figures = {
    devices: DEVICES,
    lines: result.lines,
    replaySeconds: Number(seconds.toFixed(1)),
    linesPerSecond: Math.round(result.lines / seconds),
    alerts: result.alerts.length,
    dynamodbRequests: dynamo.reduce((sum, [, n]) => sum + n, 0),
    requests: result.requests,
  };
  results[name] = figures;
  console.info(name, JSON.stringify(figures));
  writeFileSync('test/load/results.json', `${JSON.stringify(results, null, 2)}\n`);
  return result;
}

describe(`storms of ${DEVICES} devices`, () => {
  it('gives no alert and ends every device connected after a reconnect storm within 30 s', async () => {
    // Arrange
    const lines = storm('SERVER_INITIATED_DISCONNECT', 30_000);

    // Act
    const result = await timedReplay('reconnectStorm', lines);

    // Assert
    expect(result.alerts).toEqual([]);
    expect(result.devices).toHaveLength(DEVICES);
    expect(result.devices.every((d) => d.status === 'connected')).toBe(true);
  }, 900_000);

  it('gives exactly one offline alert per device when every device stays down', async () => {
    // Arrange
    const lines = storm('CONNECTION_LOST');

    // Act
    const result = await timedReplay('outageStorm', lines);

    // Assert
    expect(result.alerts).toHaveLength(DEVICES);
    expect(new Set(result.alerts.map((a) => a.deviceId)).size).toBe(DEVICES);
    expect(result.alerts.every((a) => a.type === 'offline')).toBe(true);
    expect(result.devices.every((d) => d.status === 'disconnected')).toBe(true);
    const latenessBeyondW = result.alerts.map((a) => a.publishedAt - (a.since + W));
    expect(Math.max(...latenessBeyondW)).toBeLessThanOrEqual(10_000);
  }, 900_000);
});
