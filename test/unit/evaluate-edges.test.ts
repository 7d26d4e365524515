import { describe, expect, it } from 'vitest';
import type { ConnectionFacts } from '../../src/domain/connection.js';
import type { DeviceEvent } from '../../src/domain/device-events.js';
import { applyEvents, type DeviceFacts, emptyFacts, type WillFacts } from '../../src/domain/device-facts.js';
import { versionsBehind } from '../../src/domain/episode-alerts.js';
import { evaluateDevice } from '../../src/domain/evaluate.js';
import { DEFAULT_SETTINGS as settings } from '../../src/domain/settings.js';
import { lwtEnds, presenceEnds } from '../../src/domain/steps.js';
import { birthEvent, connectedEvent, willEvent } from '../../src/local/in-memory-ports.js';

const T = 1_793_520_000_000;
const SECOND = 1_000;
const MINUTE = 60_000;
const W = settings.settleWindowMs;
const DEVICE = 'thing-1';

const factsOf = (...events: DeviceEvent[]): DeviceFacts => applyEvents(emptyFacts(DEVICE), events);
const will = (eventId: string, receivedAt: number): WillFacts => ({ eventId, receivedAt, payload: eventId });
const lostAt = (fields: Partial<ConnectionFacts>): ConnectionFacts => ({
  sessionIdentifier: 's',
  versionNumber: 1,
  source: 'presence',
  startedAt: T,
  startSeenAt: T,
  endReason: 'CONNECTION_LOST',
  ...fields,
});

describe('presenceEnds: which will an end shows', () => {
  it('shows the earlier of two wills equally near the end, whatever their order', () => {
    // Arrange: wills 5 s before and 5 s after the end, the later one listed first.
    const end = lostAt({ endedAt: T + MINUTE, endSeenAt: T + MINUTE });
    const wills = [will('after', T + MINUTE + 5 * SECOND), will('before', T + MINUTE - 5 * SECOND)];

    // Act
    const ends = presenceEnds([end], wills, settings);

    // Assert
    expect(ends.ended[0]?.shownWill).toBe('before');
    expect([...ends.explained].sort()).toEqual(['after', 'before']);
  });

  it.each([
    ['its receive time, when AWS gave no time', { endSeenAt: T + MINUTE }],
    ["AWS's time, when its receive time is unknown", { endedAt: T + MINUTE }],
  ])('measures the distance of a will to an end by %s', (_label, endFields) => {
    // Arrange
    const end = lostAt(endFields);

    // Act
    const ends = presenceEnds([end], [will('w', T + MINUTE + 2 * SECOND)], settings);

    // Assert
    expect([...ends.explained]).toEqual(['w']);
  });
});

describe('lwtEnds: wills of a device without presence', () => {
  it('takes wills received in the same millisecond in the order of their ids', () => {
    // Arrange
    const birth = { sessionIdentifier: 'birth:b', source: 'birth' as const, startedAt: T, startSeenAt: T };

    // Act
    const ends = lwtEnds([birth], [will('will:z', T + MINUTE), will('will:a', T + MINUTE)], settings);

    // Assert: the first will ends the birth's connection; the second changes nothing.
    expect([...ends.explained]).toEqual(['will:a']);
    expect(ends.ended[0]?.end?.lastWill).toBe('will:a');
  });
});

describe('evaluateDevice: edges', () => {
  it('gives a device it knows nothing of no view, no alert and no cursor', () => {
    // Act
    const evaluation = evaluateDevice(emptyFacts(DEVICE), undefined, T, settings);

    // Assert
    expect(evaluation).toMatchObject({
      view: undefined,
      alerts: [],
      cursor: undefined,
      recheckAt: undefined,
    });
  });

  it("drops the cursor's record of alerts decided ahead once nothing holds it back", () => {
    // Arrange: the cursor still remembers an alert decided ahead of an end that has since been settled.
    const facts = factsOf(
      connectedEvent({ deviceId: DEVICE, sessionIdentifier: 'A', versionNumber: 1, receivedAt: T }),
    );
    const cursor = {
      at: { sessionIdentifier: 'A', versionNumber: 1 },
      atTime: T,
      through: 'start' as const,
      ahead: [`${DEVICE}/online/B/2`],
    };

    // Act
    const evaluation = evaluateDevice(facts, cursor, T + MINUTE, settings);

    // Assert
    expect(evaluation.cursor).toEqual({ at: cursor.at, atTime: T, through: 'start' });
  });

  it('owes the online alert of the first presence connection of a device that was down on its wills alone', () => {
    // Arrange: a device known only from its birth and will goes down; then it connects with presence events.
    const down = factsOf(
      birthEvent({ deviceId: DEVICE, receivedAt: T }),
      willEvent({ deviceId: DEVICE, receivedAt: T + MINUTE }),
    );
    const offline = evaluateDevice(down, undefined, T + MINUTE + W + SECOND, settings);
    const back = applyEvents(down, [
      connectedEvent({
        deviceId: DEVICE,
        sessionIdentifier: 'P',
        versionNumber: 1,
        receivedAt: T + 10 * MINUTE,
      }),
    ]);

    // Act
    const evaluation = evaluateDevice(back, offline.cursor, T + 10 * MINUTE + SECOND, settings);

    // Assert
    expect(offline.alerts.map((a) => a.type)).toEqual(['offline']);
    expect(evaluation.alerts).toMatchObject([
      { type: 'online', sessionIdentifier: 'P', versionNumber: 1, outageMs: 9 * MINUTE },
    ]);
  });

  it('lists wills that arrived in the same millisecond and explain nothing in the order of their ids', () => {
    // Arrange: a connected device, and two wills at once that no end explains.
    const facts = factsOf(
      connectedEvent({ deviceId: DEVICE, sessionIdentifier: 'A', versionNumber: 1, receivedAt: T }),
      willEvent({ deviceId: DEVICE, receivedAt: T + MINUTE, payload: 'one' }),
      willEvent({ deviceId: DEVICE, receivedAt: T + MINUTE, payload: 'two' }),
    );

    // Act
    const evaluation = evaluateDevice(facts, undefined, T + MINUTE + SECOND, settings);

    // Assert
    const ids = facts.wills.map((w) => w.eventId).sort();
    expect(evaluation.facts.wills.map((w) => w.eventId).sort()).toEqual(ids);
    expect(evaluation.view).toMatchObject({ status: 'connected' });
  });

  it('dates a connected device from when any of its events was first seen, when its connect was never seen', () => {
    // Arrange: a record whose newest connection has no receive time of its connect (an older record's shape).
    const facts: DeviceFacts = {
      ...emptyFacts(DEVICE),
      presence: true,
      connections: [
        { sessionIdentifier: 'A', versionNumber: 1, source: 'presence', startedAt: T, endSeenAt: T + 5 },
      ],
    };

    // Act
    const evaluation = evaluateDevice(facts, undefined, T + MINUTE, settings);

    // Assert
    expect(evaluation.view).toMatchObject({ status: 'connected', since: T + 5 });
  });
});

describe('versionsBehind: how far a late takeover lies behind the cursor', () => {
  it.each([
    ['no cursor', undefined, { sessionIdentifier: 's', versionNumber: 1 }, undefined],
    [
      'a cursor at a birth',
      { sessionIdentifier: 'birth:b' },
      { sessionIdentifier: 's', versionNumber: 1 },
      undefined,
    ],
    [
      'a connection without a version',
      { sessionIdentifier: 's', versionNumber: 3 },
      { sessionIdentifier: 'b' },
      undefined,
    ],
    [
      'two versions',
      { sessionIdentifier: 's', versionNumber: 3 },
      { sessionIdentifier: 's', versionNumber: 1 },
      2,
    ],
  ])('answers from %s', (_label, at, connection, expected) => {
    expect(versionsBehind(at, connection)).toBe(expected);
  });
});
