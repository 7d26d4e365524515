import { describe, expect, it } from 'vitest';
import type { DeviceEventItem } from '../page/model.js';
import { buildTimeline, connectedShare, DAY_MS, fittingWindow } from '../page/timeline.js';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const MIN = 60_000;
const ago = (minutes: number) => NOW - minutes * MIN;
const WINDOW_START = NOW - DAY_MS;

function event(
  kind: string,
  at: number,
  session: string | null = null,
  extra: Partial<DeviceEventItem> = {},
): DeviceEventItem {
  return {
    kind,
    eventId: `${kind}-${session}-${at}`,
    at,
    receivedAt: at,
    sessionIdentifier: session,
    versionNumber: null,
    disconnectReason: null,
    ...extra,
  };
}

const connected = (at: number, session: string) => event('connected', at, session);
const disconnected = (at: number, session: string, reason = 'CONNECTION_LOST') =>
  event('disconnected', at, session, { disconnectReason: reason });

describe('the device timeline', () => {
  it('draws a drop and a return as connected, disconnected with its reason, connected', () => {
    // Arrange
    const events = [connected(ago(60), 'a'), disconnected(ago(40), 'a'), connected(ago(10), 'b')];

    // Act
    const spans = buildTimeline(events, NOW, { historyComplete: true });

    // Assert
    expect(spans).toEqual([
      { start: WINDOW_START, end: ago(60), state: 'unknown', reason: null },
      { start: ago(60), end: ago(40), state: 'connected', reason: null },
      { start: ago(40), end: ago(10), state: 'disconnected', reason: 'CONNECTION_LOST' },
      { start: ago(10), end: NOW, state: 'connected', reason: null },
    ]);
  });

  it('keeps a device connected through a client-id takeover whose old session ends after the new one began', () => {
    // Arrange
    const events = [
      connected(ago(60), 'old'),
      connected(ago(30), 'new'),
      disconnected(ago(29), 'old', 'DUPLICATE_CLIENTID'),
    ];

    // Act
    const spans = buildTimeline(events, NOW, { historyComplete: true });

    // Assert
    expect(spans.filter((span) => span.state !== 'unknown')).toEqual([
      { start: ago(60), end: NOW, state: 'connected', reason: null },
    ]);
  });

  it('draws the same spans whatever the delivery order and however many duplicates', () => {
    // Arrange
    const inOrder = [connected(ago(60), 'a'), disconnected(ago(40), 'a'), connected(ago(10), 'b')];
    const shuffled = [inOrder[2], inOrder[0], inOrder[1], inOrder[0], inOrder[2]] as DeviceEventItem[];

    // Act
    const expected = buildTimeline(inOrder, NOW, { historyComplete: true });
    const actual = buildTimeline(shuffled, NOW, { historyComplete: true });

    // Assert
    expect(actual).toEqual(expected);
  });

  it('shows a device as connected before a disconnect whose session began before the loaded events', () => {
    // Arrange: the session's connected event is older than what was read
    const events = [disconnected(ago(30), 'a', 'MQTT_KEEP_ALIVE_TIMEOUT')];

    // Act
    const spans = buildTimeline(events, NOW, { historyComplete: false });

    // Assert
    expect(spans).toEqual([
      { start: WINDOW_START, end: ago(30), state: 'connected', reason: null },
      { start: ago(30), end: NOW, state: 'disconnected', reason: 'MQTT_KEEP_ALIVE_TIMEOUT' },
    ]);
  });

  it('marks the time before the oldest loaded event unknown when the history was cut short', () => {
    // Arrange
    const events = [connected(ago(30), 'a')];

    // Act
    const spans = buildTimeline(events, NOW, { historyComplete: false });

    // Assert
    expect(spans.map((span) => span.state)).toEqual(['unknown', 'connected']);
    expect(spans[0]?.end).toBe(ago(30));
  });

  it('clips a session that began before the window to the window', () => {
    // Arrange
    const events = [connected(NOW - 30 * 3_600_000, 'a')];

    // Act
    const spans = buildTimeline(events, NOW, { historyComplete: true });

    // Assert
    expect(spans).toEqual([{ start: WINDOW_START, end: NOW, state: 'connected', reason: null }]);
    expect(connectedShare(spans)).toBe(1);
  });

  it('draws a device without presence events from its births and wills', () => {
    // Arrange
    const events = [event('birth', ago(50)), event('will', ago(20)), event('birth', ago(5))];

    // Act
    const spans = buildTimeline(events, NOW, { historyComplete: true });

    // Assert
    expect(spans.slice(1)).toEqual([
      { start: ago(50), end: ago(20), state: 'connected', reason: null },
      { start: ago(20), end: ago(5), state: 'disconnected', reason: 'LAST_WILL' },
      { start: ago(5), end: NOW, state: 'connected', reason: null },
    ]);
  });

  it('draws a shorter window when asked, and the share counts only known time', () => {
    // Arrange
    const events = [connected(ago(8), 'a'), disconnected(ago(2), 'a')];

    // Act
    const spans = buildTimeline(events, NOW, { windowMs: 10 * MIN, historyComplete: true });

    // Assert
    expect(spans[0]).toEqual({ start: ago(10), end: ago(8), state: 'unknown', reason: null });
    expect(connectedShare(spans)).toBeCloseTo(0.75);
  });
});

describe('takeovers and the window the timeline opens on', () => {
  it('draws a 12-second clientId fight as one connected span with its takeovers, with no disconnected span', () => {
    // Arrange: eight takeovers, each old session's end stamped a few ms after or before the next start
    const events = [connected(ago(10), 's0')];
    for (let i = 1; i <= 8; i += 1) {
      const at = ago(10) + i * 1_500;
      events.push(connected(at, `s${i}`));
      events.push(disconnected(at + (i % 2 === 0 ? 3 : -3), `s${i - 1}`, 'DUPLICATE_CLIENTID'));
    }

    // Act
    const spans = buildTimeline(events, NOW, { windowMs: 10 * MIN + 1, historyComplete: true });

    // Assert
    expect(spans.filter((span) => span.state === 'disconnected')).toEqual([]);
    expect(spans.every((span) => span.end > span.start)).toBe(true);
    expect(spans.at(-1)).toMatchObject({ state: 'connected', start: ago(10), end: NOW, takeovers: 8 });
  });

  it('still draws a real outage after a takeover that nobody followed', () => {
    // Arrange
    const events = [connected(ago(20), 'a'), disconnected(ago(10), 'a', 'DUPLICATE_CLIENTID')];

    // Act
    const spans = buildTimeline(events, NOW, { windowMs: 30 * MIN, historyComplete: true });

    // Assert
    expect(spans.at(-1)).toMatchObject({
      state: 'disconnected',
      reason: 'DUPLICATE_CLIENTID',
      start: ago(10),
    });
  });

  it('opens on the shortest window that holds the events, and on the longest when older ones exist', () => {
    // Arrange
    const choices = [DAY_MS, 6 * 60 * MIN, 60 * MIN, 10 * MIN];
    const recent = [connected(ago(5), 'a')];
    const older = [connected(ago(200), 'a')];

    // Act & Assert
    expect(fittingWindow(recent, NOW, choices, true)).toBe(10 * MIN);
    expect(fittingWindow(older, NOW, choices, true)).toBe(6 * 60 * MIN);
    expect(fittingWindow(recent, NOW, choices, false)).toBe(DAY_MS);
    expect(fittingWindow([], NOW, choices, true)).toBe(DAY_MS);
  });
});
