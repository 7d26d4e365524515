import { describe, expect, it } from 'vitest';
import { orderConnections } from '../../src/domain/connection.js';
import type { DeviceEvent, PresenceDisconnectReason } from '../../src/domain/device-events.js';
import { applyEvents, type DeviceFacts, emptyFacts } from '../../src/domain/device-facts.js';
import { type AlertCursor, type AlertDecision, evaluateDevice } from '../../src/domain/evaluate.js';
import { DEFAULT_SETTINGS, type PresenceSettings } from '../../src/domain/settings.js';
import { birthEvent, connectedEvent, disconnectedEvent, willEvent } from '../../src/local/in-memory-ports.js';

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
const names = (facts: DeviceFacts) =>
  facts.connections.map((c) => `${c.sessionIdentifier}/${c.versionNumber}`);

describe('evaluateDevice: the connection model', () => {
  it('keeps the device connected when an old connection is taken over', () => {
    // Arrange: B takes over A; A's DUPLICATE_CLIENTID disconnect and its will arrive after B's connect.
    const facts = factsOf(
      connected('A', 1, T),
      connected('B', 2, T + MINUTE),
      disconnected('A', 1, T + MINUTE + SECOND, 'DUPLICATE_CLIENTID'),
      will(T + MINUTE + 2 * SECOND),
    );
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + MINUTE + 3 * W, settings);
    // Assert
    expect(evaluation.view).toMatchObject({ status: 'connected', sessionIdentifier: 'B', versionNumber: 2 });
    expect(evaluation.alerts).toEqual([]);
  });

  it('tells apart the connections of one persistent session by their versionNumber', () => {
    // Arrange: a resumed persistent session keeps its sessionIdentifier; version 5 ended, version 6 is live.
    const facts = factsOf(
      connected('P', 5, T),
      disconnected('P', 5, T + MINUTE),
      connected('P', 6, T + MINUTE + 30 * SECOND),
    );
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + HOUR, settings);
    // Assert
    expect(names(facts)).toEqual(['P/5', 'P/6']);
    expect(evaluation.view).toMatchObject({ status: 'connected', sessionIdentifier: 'P', versionNumber: 6 });
    expect(evaluation.alerts).toEqual([]);
  });

  it('alerts on a persistent session that resumes after an outage, naming each connection by both fields', () => {
    // Arrange: version 5 drops; the session is resumed 19 minutes later as version 6.
    // Act
    const { alertsByStep } = settleOver([
      { at: T, events: [connected('P', 5, T)] },
      { at: T + MINUTE, events: [disconnected('P', 5, T + MINUTE)] },
      { at: T + MINUTE + W },
      { at: T + 20 * MINUTE, events: [connected('P', 6, T + 20 * MINUTE)] },
    ]);
    // Assert
    expect(alertsByStep.flat().map((a) => `${a.type} ${a.sessionIdentifier}/${a.versionNumber}`)).toEqual([
      'offline P/5',
      'online P/6',
    ]);
  });

  it('ignores a duplicate disconnect of an older connection', () => {
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
    expect(actual.view).toMatchObject({
      status: 'connected',
      sessionIdentifier: 'B',
      since: expected.view?.since,
    });
    expect(actual.alerts).toEqual([]);
    expect(withDuplicate.connections.find((c) => c.sessionIdentifier === 'A')?.endSeenAt).toBe(T + MINUTE);
  });

  it('orders connections by versionNumber when they start close together', () => {
    // Arrange: AWS's approximate timestamps put the newer connection B 90 s before A.
    const facts = factsOf(
      connected('B', 8, T + 5 * SECOND, T),
      connected('A', 7, T, T + 90 * SECOND),
      disconnected('A', 7, T + 6 * SECOND, 'DUPLICATE_CLIENTID', T + 95 * SECOND),
    );
    // Act
    const ordered = orderConnections(facts.connections, settings).map((c) => c.sessionIdentifier);
    const evaluation = evaluateDevice(facts, undefined, T + 2 * W, settings);
    // Assert
    expect(ordered).toEqual(['A', 'B']);
    expect(evaluation.view).toMatchObject({ status: 'connected', sessionIdentifier: 'B' });
  });

  it('orders connections by time after a version reset', () => {
    // Arrange: after two hours offline the version restarts at 0; C follows B closely with version 1.
    const facts = factsOf(
      connected('A', 25, T),
      disconnected('A', 25, T + MINUTE, 'CLIENT_INITIATED_DISCONNECT'),
      connected('C', 1, T + 2 * HOUR + 5 * MINUTE, T + 2 * HOUR + 3 * MINUTE),
      connected('B', 0, T + 2 * HOUR, T + 2 * HOUR + 4 * MINUTE),
      disconnected('B', 0, T + 2 * HOUR + 5 * MINUTE, 'DUPLICATE_CLIENTID'),
    );
    // Act
    const ordered = orderConnections(facts.connections, settings).map((c) => c.sessionIdentifier);
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
    expect(afterW.alerts[0]?.earliestAt).toBe(T + W);
  });
});

describe('evaluateDevice: wills are evidence for presence devices', () => {
  it('attaches a will to the abrupt end it accompanies', () => {
    // Arrange: the will arrives half a second before the presence disconnect.
    const facts = factsOf(connected('A', 1, T), will(T + MINUTE), disconnected('A', 1, T + MINUTE + 500));
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + MINUTE + W + 500, settings);
    // Assert
    expect(evaluation.view).toMatchObject({
      status: 'disconnected',
      disconnectReason: 'CONNECTION_LOST',
      abrupt: true,
      lastWill: WILL_PAYLOAD,
      lastWillAt: T + MINUTE,
    });
    expect(evaluation.alerts).toEqual([
      expect.objectContaining({
        type: 'offline',
        sessionIdentifier: 'A',
        lastWill: WILL_PAYLOAD,
        since: T + MINUTE + 500,
        earliestAt: T + MINUTE + 500 + W,
      }),
    ]);
  });

  it('attaches a will to the nearest of two abrupt ends', () => {
    // Arrange: A and B both drop; the will comes 5 s after B's end, 40 s after A's.
    const facts = factsOf(
      connected('A', 1, T),
      disconnected('A', 1, T + MINUTE),
      connected('B', 2, T + MINUTE + 10 * SECOND),
      disconnected('B', 2, T + MINUTE + 35 * SECOND),
      will(T + MINUTE + 40 * SECOND),
    );
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + MINUTE + 40 * SECOND, settings);
    // Assert
    expect(evaluation.view).toMatchObject({ sessionIdentifier: 'B', lastWillAt: T + MINUTE + 40 * SECOND });
  });

  it('never ends a connection with a will that no presence end explains, and counts it once it is dropped', () => {
    // Arrange: a will arrives and no presence disconnect ever does.
    const facts = factsOf(connected('A', 1, T), will(T + MINUTE));
    // Act
    const soon = evaluateDevice(facts, undefined, T + MINUTE + W, settings);
    const later = evaluateDevice(soon.facts, soon.cursor, T + MINUTE + 3 * W, settings);
    // Assert
    expect(soon.view).toMatchObject({ status: 'connected', sessionIdentifier: 'A', settled: true });
    expect(soon.alerts).toEqual([]);
    expect(soon.unexplainedWills).toEqual([]);
    expect(later.view).toMatchObject({ status: 'connected', sessionIdentifier: 'A' });
    expect(later.unexplainedWills.map((w) => w.receivedAt)).toEqual([T + MINUTE]);
    expect(later.facts.wills).toEqual([]);
  });

  it('changes nothing when a will is delivered again minutes later, after a reconnection', () => {
    // Arrange: A drops with its will; B connects 40 s later; the same will reaches the rule again 5 minutes on.
    const events = [
      connected('A', 1, T),
      disconnected('A', 1, T + MINUTE),
      will(T + MINUTE),
      connected('B', 2, T + MINUTE + 40 * SECOND),
    ];
    const again = will(T + 6 * MINUTE);
    // Act
    const { alertsByStep, facts, cursor } = settleOver([
      { at: T + MINUTE + 40 * SECOND, events },
      { at: T + 6 * MINUTE, events: [again] },
      { at: T + 6 * MINUTE + 2 * W },
    ]);
    // Assert
    expect(alertsByStep.flat()).toEqual([]);
    expect(evaluateDevice(facts, cursor, T + HOUR, settings).view).toMatchObject({
      status: 'connected',
      sessionIdentifier: 'B',
    });
  });

  it('never lets a will end a newer connection even when the old one never reports its disconnect', () => {
    // Arrange: A's will arrives, B connects a second later, A's presence disconnect is lost.
    const facts = factsOf(connected('A', 1, T), will(T + MINUTE), connected('B', 2, T + MINUTE + SECOND));
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + MINUTE + 3 * W, settings);
    // Assert
    expect(evaluation.view).toMatchObject({ status: 'connected', sessionIdentifier: 'B' });
    expect(evaluation.alerts).toEqual([]);
  });
});

describe('evaluateDevice: devices without presence events', () => {
  it('starts connections with births and ends the newest one with a will', () => {
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
    expect(alertsByStep.map(brief)).toEqual([
      [],
      [],
      [{ type: 'offline', sessionIdentifier: `birth:${firstBirth.eventId}` }],
      [{ type: 'online', sessionIdentifier: `birth:${secondBirth.eventId}` }],
    ]);
  });

  it('ignores a copy of a will that arrives after its connection already ended by a will', () => {
    // Arrange
    const first = birth(T);
    // Act
    const { alertsByStep, facts, cursor } = settleOver([
      { at: T, events: [first] },
      { at: T + MINUTE, events: [will(T + MINUTE)] },
      { at: T + MINUTE + W },
      { at: T + 4 * MINUTE, events: [will(T + 4 * MINUTE)] },
      { at: T + 4 * MINUTE + 2 * W },
    ]);
    // Assert
    expect(alertsByStep.flatMap(brief)).toEqual([
      { type: 'offline', sessionIdentifier: `birth:${first.eventId}` },
    ]);
    expect(evaluateDevice(facts, cursor, T + HOUR, settings).view).toMatchObject({
      status: 'disconnected',
      sessionIdentifier: `birth:${first.eventId}`,
      lastWillAt: T + MINUTE,
    });
  });

  it('becomes a presence device with its first presence event, forgetting what a lone will decided', () => {
    // Arrange: the will of a device seen for the first time arrives 2 s before its presence disconnect.
    // Act
    const { alertsByStep, facts, cursor } = settleOver([
      { at: T, events: [will(T)] },
      { at: T + 2 * SECOND, events: [disconnected('A', 9, T + 2 * SECOND)] },
      { at: T + 2 * SECOND + W },
    ]);
    // Assert
    expect(alertsByStep.map(brief)).toEqual([[], [], [{ type: 'offline', sessionIdentifier: 'A' }]]);
    expect(evaluateDevice(facts, cursor, T + HOUR, settings).view).toMatchObject({
      sessionIdentifier: 'A',
      versionNumber: 9,
      lastWillAt: T,
    });
  });
});

describe('evaluateDevice: alerts', () => {
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
    expect(cursor?.outageSince).toBeUndefined();
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
    expect(alertsByStep[3]?.[0]).toMatchObject({
      since: end,
      earliestAt: end + W,
      abrupt: true,
      versionNumber: 1,
    });
    expect(alertsByStep[5]?.[0]).toMatchObject({
      since: back,
      earliestAt: back,
      outageMs: back - end,
      versionNumber: 2,
    });
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
      expect.objectContaining({ type: 'offline', sessionIdentifier: 'A', abrupt: false, earliestAt: now }),
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
    expect(justAfter.recheckAt).toBe(end + W);
    expect(almost.view?.settled).toBe(false);
    expect(afterW.view?.settled).toBe(true);
    expect(afterW.recheckAt).toBeUndefined();
  });

  it('still alerts the newest connection’s outage while an older connection’s disconnect has not arrived', () => {
    // Arrange: B takes over A, but A's disconnect is not delivered; then B drops for good.
    const facts = factsOf(
      connected('A', 1, T),
      connected('B', 2, T + MINUTE),
      disconnected('B', 2, T + 2 * MINUTE),
    );
    // Act
    const pending = evaluateDevice(facts, undefined, T + 2 * MINUTE + SECOND, settings);
    const due = evaluateDevice(facts, pending.cursor, T + 2 * MINUTE + W, settings);
    // Assert
    expect(pending.recheckAt).toBe(T + 2 * MINUTE + W);
    expect(brief(due.alerts)).toEqual([{ type: 'offline', sessionIdentifier: 'B' }]);
  });
});

describe('evaluateDevice: deciding each alert once', () => {
  it('never decides an alert twice while an older connection with no known end holds the cursor', () => {
    // Arrange: A's end is unknown; X (v3) drops for good; N (v2), ordered between them, is first heard of later.
    // A stays undecided until W after N was seen, while X's outage is decided: the cursor must remember it.
    const steps = [
      {
        at: T + 20 * SECOND,
        events: [
          connected('A', 1, T),
          connected('X', 3, T + 10 * SECOND),
          disconnected('X', 3, T + 20 * SECOND),
        ],
      },
      { at: T + 100 * SECOND, events: [connected('N', 2, T + 100 * SECOND, T + 5 * SECOND)] },
      { at: T + 20 * SECOND + W },
      { at: T + 20 * SECOND + W + 10 * SECOND },
      { at: T + 100 * SECOND + W },
    ];
    // Act
    const { alertsByStep, cursor } = settleOver(steps);
    // Assert
    expect(alertsByStep.map(brief)).toEqual([[], [], [{ type: 'offline', sessionIdentifier: 'X' }], [], []]);
    expect(cursor?.ahead).toBeUndefined();
  });
});

describe('evaluateDevice: what the record keeps', () => {
  it('keeps only the connections from the cursor on', () => {
    // Arrange: A is taken over by B (with A's will); B ends cleanly; C connects.
    const facts = factsOf(
      connected('A', 0, T),
      disconnected('A', 0, T + 10 * SECOND, 'DUPLICATE_CLIENTID'),
      will(T + 10 * SECOND),
      connected('B', 1, T + 10 * SECOND + 400),
      disconnected('B', 1, T + 20 * SECOND, 'CLIENT_INITIATED_DISCONNECT'),
      connected('C', 2, T + 21 * SECOND),
    );
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + 21 * SECOND, settings);
    // Assert
    expect(evaluation.cursor).toMatchObject({
      at: { sessionIdentifier: 'C', versionNumber: 2 },
      through: 'start',
    });
    expect(names(evaluation.facts)).toEqual(['C/2']);
    expect(evaluation.facts.wills).toEqual([]);
  });

  it('ignores late copies of the events of a connection it no longer keeps, its will included', () => {
    // Arrange
    const first = evaluateDevice(
      factsOf(
        connected('A', 0, T),
        disconnected('A', 0, T + 10 * SECOND, 'DUPLICATE_CLIENTID'),
        connected('B', 1, T + 10 * SECOND + 400),
      ),
      undefined,
      T + 11 * SECOND,
      settings,
    );
    // Act: minutes later, A's connected event and its will are delivered again.
    const late = applyEvents(first.facts, [connected('A', 0, T + 7 * MINUTE, T), will(T + 7 * MINUTE)]);
    const evaluation = evaluateDevice(late, first.cursor, T + 7 * MINUTE + W, settings);
    // Assert
    expect(names(first.facts)).toEqual(['B/1']);
    expect(names(evaluation.facts)).toEqual(['B/1']);
    expect(evaluation.alerts).toEqual([]);
    expect(evaluation.view).toMatchObject({ status: 'connected', sessionIdentifier: 'B' });
  });
});
