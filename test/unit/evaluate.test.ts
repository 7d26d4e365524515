import { describe, expect, it } from 'vitest';
import type { DeviceEvent, PresenceDisconnectReason } from '../../src/domain/device-events.js';
import {
  applyEvents,
  type DeviceFacts,
  emptyFacts,
  orderSessions,
  pruneFacts,
} from '../../src/domain/device-facts.js';
import { type AlertCursor, type AlertDecision, evaluateDevice } from '../../src/domain/evaluate.js';
import { DEFAULT_SETTINGS, type PresenceSettings } from '../../src/domain/settings.js';
import { birthEvent, connectedEvent, disconnectedEvent, willEvent } from '../fixtures/in-memory-ports.js';

const settings: PresenceSettings = DEFAULT_SETTINGS;
const W = settings.settleWindowMs;
const T = 1_793_520_000_000;
const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DEVICE = 'thing-1-0001';

const connected = (
  sessionIdentifier: string,
  versionNumber: number,
  receivedAt: number,
  timestamp?: number,
) => connectedEvent({ deviceId: DEVICE, sessionIdentifier, versionNumber, receivedAt, timestamp });
const disconnected = (
  sessionIdentifier: string,
  versionNumber: number,
  receivedAt: number,
  disconnectReason: PresenceDisconnectReason = 'CONNECTION_LOST',
  timestamp?: number,
) =>
  disconnectedEvent({
    deviceId: DEVICE,
    sessionIdentifier,
    versionNumber,
    receivedAt,
    disconnectReason,
    timestamp,
  });
const WILL_PAYLOAD = { state: { reported: { last_will: 'yes', client_id: DEVICE } } };
const will = (receivedAt: number) => willEvent({ deviceId: DEVICE, receivedAt, payload: WILL_PAYLOAD });
const birth = (receivedAt: number) => birthEvent({ deviceId: DEVICE, receivedAt });

const factsOf = (...events: DeviceEvent[]): DeviceFacts => applyEvents(emptyFacts(DEVICE), events);

/**
 * Evaluates the device the way the reconciler does over time: each step folds the events that arrived by then and
 * evaluates at that time with the cursor of the previous step. Returns the alerts of every step.
 */
function settleOver(
  steps: Array<{ at: number; events?: DeviceEvent[] }>,
  options: PresenceSettings = settings,
): { alertsByStep: AlertDecision[][]; facts: DeviceFacts; cursor?: AlertCursor } {
  let facts = emptyFacts(DEVICE);
  let cursor: AlertCursor | undefined;
  const alertsByStep: AlertDecision[][] = [];
  for (const step of steps) {
    facts = applyEvents(facts, step.events ?? []);
    const evaluation = evaluateDevice(facts, cursor, step.at, options);
    cursor = evaluation.cursor;
    alertsByStep.push(evaluation.alerts);
  }
  return { alertsByStep, facts, cursor };
}

const brief = (alerts: AlertDecision[]) =>
  alerts.map((a) => ({ type: a.type, sessionIdentifier: a.sessionIdentifier }));

describe('evaluateDevice', () => {
  it('keeps the device connected when an old session is taken over', () => {
    // Arrange: session B takes over A; A's DUPLICATE_CLIENTID disconnect arrives after B's connect.
    const facts = factsOf(
      connected('A', 1, T),
      connected('B', 2, T + MINUTE),
      disconnected('A', 1, T + MINUTE + SECOND, 'DUPLICATE_CLIENTID'),
      will(T + MINUTE + 2 * SECOND),
    );
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + MINUTE + 3 * W, settings);
    // Assert
    expect(evaluation.view?.status).toBe('connected');
    expect(evaluation.view?.sessionIdentifier).toBe('B');
    expect(evaluation.alerts).toEqual([]);
  });

  it('ignores a duplicate disconnect of an older session', () => {
    // Arrange: A ends, B connects within W, then A's disconnect is delivered again long after.
    const events = [
      connected('A', 4, T),
      disconnected('A', 4, T + MINUTE),
      connected('B', 5, T + MINUTE + 40 * SECOND),
    ];
    const withoutDuplicate = factsOf(...events);
    const withDuplicate = factsOf(...events, disconnected('A', 4, T + 10 * MINUTE));
    const now = T + 10 * MINUTE + 2 * W;
    // Act
    const expected = evaluateDevice(withoutDuplicate, undefined, now, settings);
    const actual = evaluateDevice(withDuplicate, undefined, now, settings);
    // Assert
    expect(actual.view?.status).toBe('connected');
    expect(actual.view?.sessionIdentifier).toBe('B');
    expect(actual.view?.since).toBe(expected.view?.since);
    expect(actual.alerts).toEqual([]);
    expect(withDuplicate.sessions.find((s) => s.sessionIdentifier === 'A')?.disconnectSeenAt).toBe(
      T + MINUTE,
    );
  });

  it('orders sessions by versionNumber when they start close together', () => {
    // Arrange: AWS's approximate timestamps put the newer session B 90 s before A.
    const facts = factsOf(
      connected('B', 8, T + 5 * SECOND, T),
      connected('A', 7, T, T + 90 * SECOND),
      disconnected('A', 7, T + 6 * SECOND, 'DUPLICATE_CLIENTID', T + 95 * SECOND),
    );
    // Act
    const ordered = orderSessions(facts.sessions, settings).map((s) => s.sessionIdentifier);
    const evaluation = evaluateDevice(facts, undefined, T + 2 * W, settings);
    // Assert
    expect(ordered).toEqual(['A', 'B']);
    expect(evaluation.view).toMatchObject({ status: 'connected', sessionIdentifier: 'B' });
  });

  it('orders sessions by time after a version reset', () => {
    // Arrange: after two hours offline the version restarts at 0; C follows B closely with version 1.
    const facts = factsOf(
      connected('A', 25, T),
      disconnected('A', 25, T + MINUTE, 'CLIENT_INITIATED_DISCONNECT'),
      connected('C', 1, T + 2 * HOUR + 5 * MINUTE, T + 2 * HOUR + 3 * MINUTE),
      connected('B', 0, T + 2 * HOUR, T + 2 * HOUR + 4 * MINUTE),
      disconnected('B', 0, T + 2 * HOUR + 5 * MINUTE, 'DUPLICATE_CLIENTID'),
    );
    // Act
    const ordered = orderSessions(facts.sessions, settings).map((s) => s.sessionIdentifier);
    const evaluation = evaluateDevice(facts, undefined, T + 3 * HOUR, settings);
    // Assert
    expect(ordered).toEqual(['A', 'B', 'C']);
    expect(evaluation.view).toMatchObject({ status: 'connected', sessionIdentifier: 'C' });
  });

  it('treats a first event that is a disconnect as an offline device', () => {
    // Arrange: the device was online before the service started; the first thing seen is its disconnect.
    const facts = factsOf(disconnected('A', 3, T, 'MQTT_KEEP_ALIVE_TIMEOUT'));
    // Act
    const early = evaluateDevice(facts, undefined, T + SECOND, settings);
    const afterW = evaluateDevice(facts, undefined, T + W, settings);
    // Assert
    expect(early.view).toMatchObject({ status: 'disconnected', sessionIdentifier: 'A', settled: false });
    expect(early.alerts).toEqual([]);
    expect(brief(afterW.alerts)).toEqual([{ type: 'offline', sessionIdentifier: 'A' }]);
    expect(afterW.alerts[0]?.dueAt).toBe(T + W);
  });

  it('matches a will with the abrupt disconnect it accompanies', () => {
    // Arrange: the will arrives half a second before the presence disconnect.
    const facts = factsOf(connected('A', 1, T), will(T + MINUTE), disconnected('A', 1, T + MINUTE + 500));
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + MINUTE + W + 500, settings);
    // Assert
    expect(evaluation.view).toMatchObject({
      status: 'disconnected',
      sessionIdentifier: 'A',
      disconnectReason: 'CONNECTION_LOST',
      abrupt: true,
      lastWill: WILL_PAYLOAD,
      lastWillAt: T + MINUTE,
    });
    expect(evaluation.alerts).toHaveLength(1);
    expect(evaluation.alerts[0]).toMatchObject({
      type: 'offline',
      sessionIdentifier: 'A',
      disconnectReason: 'CONNECTION_LOST',
      lastWill: WILL_PAYLOAD,
      since: T + MINUTE + 500,
      dueAt: T + MINUTE + 500 + W,
    });
  });

  it('ends the current session with a will no presence event explains after W', () => {
    // Arrange: a will arrives and no presence disconnect ever does.
    const facts = factsOf(connected('A', 1, T), will(T + MINUTE));
    // Act
    const beforeW = evaluateDevice(facts, undefined, T + MINUTE + W - 1, settings);
    const atW = evaluateDevice(facts, undefined, T + MINUTE + W, settings);
    // Assert
    expect(beforeW.view).toMatchObject({ status: 'connected', sessionIdentifier: 'A', settled: false });
    expect(beforeW.dueAt).toBe(T + MINUTE + W);
    expect(beforeW.alerts).toEqual([]);
    expect(atW.view).toMatchObject({
      status: 'disconnected',
      sessionIdentifier: 'A',
      disconnectReason: 'LAST_WILL',
    });
    expect(atW.alerts).toEqual([
      expect.objectContaining({
        type: 'offline',
        sessionIdentifier: 'A',
        disconnectReason: 'LAST_WILL',
        since: T + MINUTE,
      }),
    ]);
  });

  it('never lets a will end a newer session', () => {
    // Arrange: A's will, then B takes over, then A's DUPLICATE_CLIENTID disconnect.
    const facts = factsOf(
      connected('A', 1, T),
      will(T + MINUTE),
      connected('B', 2, T + MINUTE + SECOND),
      disconnected('A', 1, T + MINUTE + 2 * SECOND, 'DUPLICATE_CLIENTID'),
    );
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + MINUTE + 3 * W, settings);
    // Assert
    expect(evaluation.view).toMatchObject({ status: 'connected', sessionIdentifier: 'B' });
    expect(evaluation.alerts).toEqual([]);
  });

  it('never lets a will end a newer session even when the old session never reports its disconnect', () => {
    // Arrange: A's will arrives, B connects a second later, A's presence disconnect is lost.
    const facts = factsOf(connected('A', 1, T), will(T + MINUTE), connected('B', 2, T + MINUTE + SECOND));
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + MINUTE + 3 * W, settings);
    // Assert
    expect(evaluation.view).toMatchObject({ status: 'connected', sessionIdentifier: 'B' });
    expect(evaluation.alerts).toEqual([]);
  });

  it('starts and ends sessions from birth and will messages for a fleet without presence events', () => {
    // Arrange: birth, will (the device dies), birth again 20 minutes later.
    const firstBirth = birth(T);
    const secondBirth = birth(T + 30 * MINUTE);
    // Act
    const { alertsByStep } = settleOver([
      { at: T, events: [firstBirth] },
      { at: T + 10 * MINUTE, events: [will(T + 10 * MINUTE)] },
      { at: T + 10 * MINUTE + W },
      { at: T + 30 * MINUTE, events: [secondBirth] },
    ]);
    const final = evaluateDevice(
      factsOf(firstBirth, will(T + 10 * MINUTE), secondBirth),
      undefined,
      T + 30 * MINUTE,
      settings,
    );
    const whileDead = evaluateDevice(
      factsOf(firstBirth, will(T + 10 * MINUTE)),
      undefined,
      T + 20 * MINUTE,
      settings,
    );
    // Assert
    expect(whileDead.view).toMatchObject({
      status: 'disconnected',
      sessionIdentifier: `birth:${firstBirth.eventId}`,
      disconnectReason: 'LAST_WILL',
    });
    expect(final.view).toMatchObject({
      status: 'connected',
      sessionIdentifier: `birth:${secondBirth.eventId}`,
    });
    expect(alertsByStep.map(brief)).toEqual([
      [],
      [],
      [{ type: 'offline', sessionIdentifier: `birth:${firstBirth.eventId}` }],
      [{ type: 'online', sessionIdentifier: `birth:${secondBirth.eventId}` }],
    ]);
  });

  it('publishes nothing for a flap shorter than W', () => {
    // Arrange: A drops, B reconnects 60 s later.
    const end = T + 10 * MINUTE;
    // Act
    const { alertsByStep, facts, cursor } = settleOver([
      { at: T, events: [connected('A', 1, T)] },
      { at: end, events: [disconnected('A', 1, end), will(end + 200)] },
      { at: end + 30 * SECOND },
      { at: end + MINUTE, events: [connected('B', 2, end + MINUTE)] },
      { at: end + W },
      { at: end + HOUR },
    ]);
    // Assert
    expect(alertsByStep.flat()).toEqual([]);
    expect(['offline', 'online']).not.toContain(cursor?.type);
    expect(evaluateDevice(facts, cursor, end + HOUR, settings).view).toMatchObject({
      status: 'connected',
      sessionIdentifier: 'B',
      settled: true,
    });
  });

  it('alerts offline once after W and online once on recovery', () => {
    // Arrange: A drops at `end`; B comes back 10 minutes later.
    const end = T + MINUTE;
    const back = end + 10 * MINUTE;
    // Act
    const { alertsByStep } = settleOver([
      { at: T, events: [connected('A', 1, T)] },
      { at: end, events: [disconnected('A', 1, end, 'MQTT_KEEP_ALIVE_TIMEOUT'), will(end + 300)] },
      { at: end + W - 1 },
      { at: end + W },
      { at: end + W + 5 * SECOND },
      { at: back, events: [connected('B', 2, back)] },
      { at: back + SECOND, events: [connected('B', 2, back + SECOND)] },
      { at: back + HOUR },
    ]);
    // Assert
    expect(alertsByStep.map(brief)).toEqual([
      [],
      [],
      [],
      [{ type: 'offline', sessionIdentifier: 'A' }],
      [],
      [{ type: 'online', sessionIdentifier: 'B' }],
      [],
      [],
    ]);
    expect(alertsByStep[3]?.[0]).toMatchObject({ since: end, dueAt: end + W, abrupt: true });
    expect(alertsByStep[5]?.[0]).toMatchObject({ since: back, dueAt: back, outageMs: back - end });
  });

  it('alerts on clean disconnects only when alertOn is all', () => {
    // Arrange: a clean disconnect and no reconnection.
    const facts = factsOf(
      connected('A', 1, T),
      disconnected('A', 1, T + MINUTE, 'CLIENT_INITIATED_DISCONNECT'),
    );
    const now = T + MINUTE + W;
    // Act
    const abruptOnly = evaluateDevice(facts, undefined, now, settings);
    const all = evaluateDevice(facts, undefined, now, { ...settings, alertOn: 'all' });
    // Assert
    expect(abruptOnly.view).toMatchObject({ status: 'disconnected', abrupt: false, settled: true });
    expect(abruptOnly.alerts).toEqual([]);
    expect(all.alerts).toEqual([
      expect.objectContaining({ type: 'offline', sessionIdentifier: 'A', abrupt: false, dueAt: now }),
    ]);
  });

  it('reports the device unsettled until W has passed', () => {
    // Arrange: an abrupt end with nothing after it.
    const end = T + MINUTE;
    const facts = factsOf(connected('A', 1, T), disconnected('A', 1, end));
    // Act
    const justAfter = evaluateDevice(facts, undefined, end + SECOND, settings);
    const almost = evaluateDevice(facts, undefined, end + W - 1, settings);
    const afterW = evaluateDevice(facts, undefined, end + W, settings);
    // Assert
    expect(justAfter.view).toMatchObject({ status: 'disconnected', settled: false });
    expect(justAfter.dueAt).toBe(end + W);
    expect(almost.view?.settled).toBe(false);
    expect(afterW.view?.settled).toBe(true);
    expect(afterW.dueAt).toBeUndefined();
  });

  it('still schedules the newest session’s outage when an older session’s disconnect never arrived', () => {
    // Arrange: B takes over A, but A's disconnect is never delivered; then B drops for good.
    const facts = factsOf(
      connected('A', 1, T),
      connected('B', 2, T + MINUTE),
      disconnected('B', 2, T + 2 * MINUTE),
    );

    // Act
    const pending = evaluateDevice(facts, undefined, T + 2 * MINUTE + SECOND, settings);
    const due = evaluateDevice(facts, pending.cursor, T + 2 * MINUTE + W, settings);

    // Assert
    expect(pending.dueAt).toBe(T + 2 * MINUTE + W);
    expect(brief(due.alerts)).toEqual([{ type: 'offline', sessionIdentifier: 'B' }]);
  });

  it('ignores late duplicates of a pruned session, its will included', () => {
    // Arrange: A is taken over by B (with A's will); B ends cleanly; C connects; the record keeps only two sessions.
    const small: PresenceSettings = { ...settings, maxSessions: 2 };
    const history = factsOf(
      connected('A', 0, T),
      disconnected('A', 0, T + 10 * SECOND, 'DUPLICATE_CLIENTID'),
      will(T + 10 * SECOND),
      connected('B', 1, T + 10 * SECOND + 400),
      disconnected('B', 1, T + 20 * SECOND, 'CLIENT_INITIATED_DISCONNECT'),
      connected('C', 2, T + 21 * SECOND),
    );
    const pruned = pruneFacts(history, small);

    // Act: a minute later, A's connected event and its will are delivered again.
    const late = applyEvents(pruned, [connected('A', 0, T + 70 * SECOND, T), will(T + 71 * SECOND)]);
    const evaluation = evaluateDevice(late, undefined, T + 71 * SECOND + W, small);

    // Assert
    expect(pruned.sessions.map((s) => s.sessionIdentifier)).toEqual(['B', 'C']);
    expect(late.sessions.map((s) => s.sessionIdentifier)).toEqual(['B', 'C']);
    expect(evaluation.alerts).toEqual([]);
    expect(evaluation.view).toMatchObject({ status: 'connected', sessionIdentifier: 'C' });
  });
});
