/**
 * A storm of a whole fleet, as a trace, with what it must end as: every device connects; 70% of them drop within
 * 30 s (a cellular carrier's outage, a regional power cut); 95% of those are back 10 minutes later, more than the
 * default recovery share (90%). One fleet incident: one fleet-outage alert, one fleet-recovered alert.
 */
import type { ReplayResult } from './replay.js';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const MINUTE = 60_000;
/** Everyone connects within the first 10 minutes; the storm starts at 15 minutes. */
const CONNECT_SPREAD_MS = 10 * MINUTE;
const STORM_AT = T0 + 15 * MINUTE;
const DROP_SPREAD_MS = 30_000;
const BACK_AFTER_MS = 10 * MINUTE;

export interface StormExpectation {
  devices: number;
  dropped: number;
  back: number;
  /** Each device's final status and session, by deviceId. */
  states: Map<string, { status: 'connected' | 'disconnected'; sessionIdentifier: string }>;
}

const deviceId = (i: number) => `storm-${String(i).padStart(7, '0')}`;
const session = (i: number, n: number) => `00000000-0000-4000-8000-${String(i * 2 + n).padStart(12, '0')}`;
/** A deterministic spread of device i over [0, span). */
const spread = (i: number, span: number) => Math.floor((((i * 7919) % 10_007) / 10_007) * span);
/** 7 devices in 10 drop; 19 of every 20 dropped come back. */
const drops = (i: number) => i % 10 < 7;
const comesBack = (i: number) => drops(i) && Math.floor(i / 10) % 20 !== 0;

function presence(i: number, n: number, at: number, eventType: 'connected' | 'disconnected'): string {
  const clientId = deviceId(i);
  return JSON.stringify({
    at,
    topic: `$aws/events/presence/${eventType}/${clientId}`,
    payload: {
      clientId,
      timestamp: at - 400,
      eventType,
      sessionIdentifier: session(i, n),
      principalIdentifier: 'storm-principal',
      ...(eventType === 'connected'
        ? { ipAddress: '10.0.0.1' }
        : { clientInitiatedDisconnect: false, disconnectReason: 'CONNECTION_LOST' }),
      versionNumber: n,
    },
  });
}

/**
 * The trace, in time order, and what it must end as. `allBack`: every device that dropped comes back (the scale
 * bench's reconnect wave), instead of 19 in 20.
 */
export function stormTrace(
  devices: number,
  options: { allBack?: boolean } = {},
): { lines: string[]; expected: StormExpectation } {
  const timed: Array<{ at: number; line: string }> = [];
  const states: StormExpectation['states'] = new Map();
  let dropped = 0;
  let back = 0;
  for (let i = 0; i < devices; i += 1) {
    const connectAt = T0 + spread(i, CONNECT_SPREAD_MS);
    timed.push({ at: connectAt, line: presence(i, 0, connectAt, 'connected') });
    if (!drops(i)) {
      states.set(deviceId(i), { status: 'connected', sessionIdentifier: session(i, 0) });
      continue;
    }
    dropped += 1;
    const dropAt = STORM_AT + spread(i + 1, DROP_SPREAD_MS);
    timed.push({ at: dropAt, line: presence(i, 0, dropAt, 'disconnected') });
    if (!(options.allBack ? drops(i) : comesBack(i))) {
      states.set(deviceId(i), { status: 'disconnected', sessionIdentifier: session(i, 0) });
      continue;
    }
    back += 1;
    const backAt = dropAt + BACK_AFTER_MS;
    timed.push({ at: backAt, line: presence(i, 1, backAt, 'connected') });
    states.set(deviceId(i), { status: 'connected', sessionIdentifier: session(i, 1) });
  }
  timed.sort((a, b) => a.at - b.at);
  return { lines: timed.map((entry) => entry.line), expected: { devices, dropped, back, states } };
}

/** Where a replay of the storm differs from what it must end as (empty: exact). */
export function stormDifferences(result: ReplayResult, expected: StormExpectation): string[] {
  const differences: string[] = [];
  if (result.devices.length !== expected.devices)
    differences.push(`${result.devices.length} devices, not ${expected.devices}`);
  let wrong = 0;
  for (const device of result.devices) {
    const owed = expected.states.get(device.deviceId);
    if (owed?.status !== device.status || owed.sessionIdentifier !== device.sessionIdentifier) wrong += 1;
  }
  if (wrong > 0) differences.push(`${wrong} devices in the wrong state`);
  const connected = expected.devices - expected.dropped + expected.back;
  const disconnected = expected.dropped - expected.back;
  const { fleet } = result;
  if (fleet.connected !== connected || fleet.disconnected !== disconnected || fleet.unsettled !== 0)
    differences.push(
      `GET /fleet counts ${fleet.connected} connected, ${fleet.disconnected} disconnected, ${fleet.unsettled} unsettled; owed ${connected}, ${disconnected}, 0`,
    );
  const count = (type: string) => result.alerts.filter((alert) => alert.type === type).length;
  const owed = {
    'fleet-outage': 1,
    'fleet-recovered': 1,
    offline: expected.dropped,
    online: expected.back,
  };
  for (const [type, n] of Object.entries(owed))
    if (count(type) !== n) differences.push(`${count(type)} ${type} alerts, not ${n}`);
  return differences;
}
