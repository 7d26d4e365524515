import { describe, expect, it } from 'vitest';
import type { DeviceFacts } from '../../src/domain/device-facts.js';
import {
  detectEpisodes,
  type EpisodeMark,
  keepMarks,
  median,
  mergeMarks,
  takeoverMarks,
} from '../../src/domain/episodes.js';
import { evaluateDevice } from '../../src/domain/evaluate.js';
import { DEFAULT_SETTINGS as settings } from '../../src/domain/settings.js';

const T = 1_793_520_000_000;

describe('episode marks', () => {
  it('keeps the earliest time of an end seen again, with the fresher evidence', () => {
    // Arrange: the record kept a mark; a copy of the same end (same AWS timestamp) is first seen again later.
    const kept: EpisodeMark = { endedAt: T, at: T + 1_000, reason: 'DUPLICATE_CLIENTID', principals: ['a'] };
    const copy: EpisodeMark = { ...kept, at: T + 600_000, principals: ['a', 'b'] };
    // Act
    const merged = mergeMarks([kept], [copy]);
    // Assert
    expect(merged).toEqual([{ ...copy, at: T + 1_000 }]);
    expect(mergeMarks([copy], [kept])).toEqual([kept]);
  });

  it('counts two ends that share an approximate timestamp as two marks, by their connections', () => {
    // Arrange: versions 9 and 11 of a fight ended with the same AWS timestamp; version 9's mark is kept.
    const nine: EpisodeMark = { endedAt: T, version: 9, at: T + 1_000, reason: 'DUPLICATE_CLIENTID' };
    const eleven: EpisodeMark = { endedAt: T, version: 11, at: T + 30_000, reason: 'DUPLICATE_CLIENTID' };
    const keptBefore: EpisodeMark = { endedAt: T, at: T + 1_000, reason: 'DUPLICATE_CLIENTID' };
    // Act / Assert
    expect(mergeMarks([nine], [eleven])).toEqual([nine, eleven]);
    expect(mergeMarks([nine], [{ ...nine, at: T + 600_000 }])).toEqual([nine]);
    // A mark kept before marks had versions is the same end as any mark with its timestamp.
    expect(mergeMarks([keptBefore], [{ ...eleven, at: T + 600_000 }])).toEqual([
      { ...eleven, at: T + 1_000 },
    ]);
  });

  it('names the mark of a connection by its version, and by its timestamp alone when it has none', () => {
    // Arrange
    const ended = { source: 'presence' as const, endedAt: T, endSeenAt: T + 1_000 };
    const taken = { ...ended, sessionIdentifier: 's', endReason: 'DUPLICATE_CLIENTID' as const };
    // Act / Assert
    expect(takeoverMarks([{ connection: { ...taken, versionNumber: 4 } }])).toMatchObject([{ version: 4 }]);
    expect(takeoverMarks([{ connection: taken }])[0]).not.toHaveProperty('version');
  });

  it('orders marks that count at the same moment by when their ends were first seen', () => {
    // Arrange: a flap counted when the device was back, and a takeover first seen at that same moment.
    const flap: EpisodeMark = { endedAt: T, at: T, gapMs: 10_000, reason: 'CONNECTION_LOST' };
    const takeover: EpisodeMark = { endedAt: T + 5, at: T + 10_000, reason: 'DUPLICATE_CLIENTID' };
    // Act / Assert
    expect(mergeMarks([], [takeover, flap])).toEqual([flap, takeover]);
  });

  it('decides and keeps the same whatever order the marks come in', () => {
    // Arrange: enough flaps a minute apart to meet the rule, given newest first.
    const rule = settings.episodes.flapping;
    const inOrder: EpisodeMark[] = Array.from({ length: rule.minCount + 1 }, (_, i) => ({
      endedAt: T + i,
      at: T + i * 60_000,
      gapMs: 5_000,
      reason: 'CONNECTION_LOST',
    }));
    const newestFirst = [...inOrder].reverse();
    const now = T + rule.minCount * 60_000 + 5_000;
    // Act
    const decided = detectEpisodes('flapping', newestFirst, rule, undefined);
    // Assert
    expect(decided.opened).toHaveLength(1);
    expect(decided).toEqual(detectEpisodes('flapping', inOrder, rule, undefined));
    expect(keepMarks(newestFirst, rule, now, 0)).toEqual(keepMarks(inOrder, rule, now, 0));
    expect(newestFirst[0]).toBe(inOrder.at(-1));
  });

  it('takes the middle of the gaps, or the mean of the two middle ones, and 0 for none', () => {
    expect(median([30, 10, 20])).toBe(20);
    expect(median([40, 10, 20, 30])).toBe(25);
    expect(median([])).toBe(0);
  });
});

describe('episodes decided from marks the record kept after their connections were forgotten', () => {
  it('still alerts once, named after the newest connection, with the evidence the marks hold', () => {
    // Arrange: three kept marks, none of whose connections is still in the facts, and a stored form without
    // the optional evidence fields.
    const marks: EpisodeMark[] = [0, 1, 2].map((i) => ({
      endedAt: T + i,
      at: T + i * 1_000,
      reason: 'DUPLICATE_CLIENTID',
    }));
    const flaps: EpisodeMark[] = [0, 1, 2, 3, 4, 5].map((i) => ({
      endedAt: T + i,
      at: T + i * 60_000,
      reason: 'CONNECTION_LOST',
    }));
    const facts: DeviceFacts = {
      deviceId: 'thing-kept',
      presence: true,
      connections: [
        { sessionIdentifier: 'now', versionNumber: 9, source: 'presence', startedAt: T, startSeenAt: T },
      ],
      wills: [],
      marks: { 'clientid-conflict': marks, flapping: flaps },
    };
    // Act
    const evaluation = evaluateDevice(facts, undefined, T + 400_000, settings);
    // Assert
    const conflict = evaluation.alerts.find((a) => a.type === 'clientid-conflict');
    const flapping = evaluation.alerts.find((a) => a.type === 'flapping');
    expect(conflict).toMatchObject({ sessionIdentifier: 'now', count: 3, principals: [], ipAddresses: [] });
    expect(flapping).toMatchObject({ count: 6, medianGapMs: 0, reasons: { CONNECTION_LOST: 6 } });
    expect(evaluation.cursor?.episodes).toEqual({ 'clientid-conflict': T + 2_000, flapping: T + 300_000 });
  });
});

describe('devices in an episode now', () => {
  const connectedSince = (at: number): DeviceFacts => ({
    deviceId: 'thing-fight',
    presence: true,
    connections: [
      { sessionIdentifier: 's', versionNumber: 9, source: 'presence', startedAt: at, startSeenAt: at },
    ],
    wills: [],
  });
  const window = settings.episodes['clientid-conflict'].windowMs;
  /** The cursor at the start of the connection of `connectedSince`, with the last times each rule was met. */
  const cursorWith = (episodes: { 'clientid-conflict'?: number; flapping?: number }) => ({
    at: { sessionIdentifier: 's', versionNumber: 9 },
    atTime: T - 60_000,
    through: 'start' as const,
    episodes,
  });

  it('shows an episode until a whole window passed without its rule being met, and asks to look again then', () => {
    // Arrange: the conflict rule was last met at T.
    const facts = connectedSince(T - 60_000);
    const cursor = cursorWith({ 'clientid-conflict': T });
    // Act
    const during = evaluateDevice(facts, cursor, T + window, settings);
    const after = evaluateDevice(facts, cursor, T + window + 1, settings);
    // Assert
    expect(during.view?.episodes).toEqual(['clientid-conflict']);
    expect(during.recheckAt).toBe(T + window + 1);
    expect(during.view?.settled).toBe(true);
    expect(after.view).not.toHaveProperty('episodes');
    expect(after.recheckAt).toBeUndefined();
  });

  it('lists both kinds when a device fights over its id and flaps at once, and looks again when the first ends', () => {
    // Arrange
    const facts = connectedSince(T - 60_000);
    const cursor = cursorWith({ 'clientid-conflict': T, flapping: T - 1_000 });
    // Act
    const evaluation = evaluateDevice(facts, cursor, T + 1_000, settings);
    // Assert
    expect(evaluation.view?.episodes).toEqual(['clientid-conflict', 'flapping']);
    expect(evaluation.recheckAt).toBe(T + window + 1);
  });
});
