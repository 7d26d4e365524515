import { describe, expect, it } from 'vitest';
import {
  continueUptime,
  datesBetween,
  foldUptime,
  readUptime,
  type UptimeCursor,
  type UptimeDay,
  uptimeReport,
  withoutSavedDays,
} from '../../src/domain/uptime.js';

const W = 120_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const at = (iso: string) => Date.parse(iso);
const on = (iso: string) => ({ at: at(iso), connected: true });
const off = (iso: string) => ({ at: at(iso), connected: false });

describe('foldUptime', () => {
  it('adds connected and disconnected time, and counts only stretches longer than W as outages', () => {
    // Arrange: a 1-minute gap (the device was back within W), then a 10-minute outage.
    const edges = [
      on('2026-11-01T10:00:00Z'),
      off('2026-11-01T11:00:00Z'),
      on('2026-11-01T11:01:00Z'),
      off('2026-11-01T12:00:00Z'),
      on('2026-11-01T12:10:00Z'),
    ];
    // Act
    const cursor = foldUptime(undefined, edges, W);
    // Assert
    expect(cursor).toEqual({
      at: at('2026-11-01T12:10:00Z'),
      connected: true,
      day: {
        date: '2026-11-01',
        connectedMs: HOUR + 59 * MINUTE,
        disconnectedMs: 11 * MINUTE,
        outages: 1,
        longestOutageMs: 10 * MINUTE,
      },
    });
  });

  it('finishes the day an outage began when the timeline passes its midnight, and keeps no day in between', () => {
    // Arrange: down at 23:00 on the 1st, back at 02:00 on the 3rd.
    const edges = [on('2026-11-01T22:00:00Z'), off('2026-11-01T23:00:00Z'), on('2026-11-03T02:00:00Z')];
    // Act
    const cursor = foldUptime(undefined, edges, W);
    // Assert
    expect(cursor?.unsaved).toEqual([
      {
        date: '2026-11-01',
        endedConnected: false,
        connectedMs: HOUR,
        disconnectedMs: HOUR,
        outages: 1,
        longestOutageMs: 27 * HOUR,
      },
    ]);
    expect(cursor?.day).toEqual({
      date: '2026-11-03',
      startedConnected: false,
      connectedMs: 0,
      disconnectedMs: 2 * HOUR,
      outages: 0,
      longestOutageMs: 0,
    });
  });

  it('counts an edge older than the timeline at the timeline, and ignores edges that change nothing', () => {
    // Arrange
    const start = foldUptime(undefined, [on('2026-11-01T10:00:00Z'), off('2026-11-01T10:30:00Z')], W);
    // Act: a connection first seen before the end (times are approximate), then a second start.
    const cursor = foldUptime(start, [on('2026-11-01T10:29:00Z'), on('2026-11-01T10:40:00Z')], W);
    // Assert
    expect(cursor?.at).toBe(at('2026-11-01T10:30:00Z'));
    expect(cursor?.connected).toBe(true);
    expect(cursor?.day.connectedMs).toBe(30 * MINUTE);
    expect(cursor?.day.disconnectedMs).toBe(0);
  });

  it('forgets the open stretch but keeps finished days when the device becomes a presence device', () => {
    // Arrange: a birth on the 1st, a will on the 2nd (finishing the 1st), then the first presence event.
    const births = foldUptime(
      undefined,
      [on('2026-11-01T10:00:00Z'), off('2026-11-02T10:00:00Z')],
      W,
    ) as UptimeCursor;
    // Act
    const cursor = continueUptime(births, [on('2026-11-02T12:00:00Z')], { restart: true, outageAfterMs: W });
    // Assert
    expect(cursor?.unsaved?.map((d) => d.date)).toEqual(['2026-11-01']);
    expect(cursor?.day).toEqual({
      date: '2026-11-02',
      connectedMs: 0,
      disconnectedMs: 0,
      outages: 0,
      longestOutageMs: 0,
    });
  });

  it('drops only the days saved', () => {
    // Arrange
    const day = (date: string): UptimeDay => ({
      date,
      connectedMs: 1,
      disconnectedMs: 0,
      outages: 0,
      longestOutageMs: 0,
    });
    const cursor: UptimeCursor = {
      at: 0,
      connected: true,
      day: day('2026-11-03'),
      unsaved: [day('2026-11-01'), day('2026-11-02')],
    };
    // Act & Assert
    expect(withoutSavedDays(cursor, [day('2026-11-01')]).unsaved).toEqual([day('2026-11-02')]);
    expect(withoutSavedDays(cursor, [day('2026-11-01'), day('2026-11-02')])).not.toHaveProperty('unsaved');
    const { unsaved: _, ...open } = cursor;
    expect(withoutSavedDays(open, [day('2026-11-01')])).toEqual(open);
  });
});

describe('uptimeReport', () => {
  const settled = (edges: ReturnType<typeof on>[]) => foldUptime(undefined, edges, W) as UptimeCursor;

  it('fills the days nothing changed in with the state of the day before, and leaves unknown days unknown', () => {
    // Arrange: first seen on the 2nd at 12:00, down from the 2nd 23:00 to the 5th 01:00; read on the 5th at 02:00.
    const folded = settled([
      on('2026-11-02T12:00:00Z'),
      off('2026-11-02T23:00:00Z'),
      on('2026-11-05T01:00:00Z'),
    ]);
    // Act
    const report = uptimeReport(
      { saved: folded.unsaved ?? [], cursor: withoutSavedDays(folded, folded.unsaved ?? []) },
      { from: '2026-11-01', to: '2026-11-06' },
      at('2026-11-05T02:00:00Z'),
      W,
    );
    // Assert
    expect(
      report.days.map((d) => [d.date, d.known, d.connectedMs / HOUR, d.disconnectedMs / HOUR, d.outages]),
    ).toEqual([
      ['2026-11-01', false, 0, 0, 0],
      ['2026-11-02', true, 11, 1, 1],
      ['2026-11-03', true, 0, 24, 0],
      ['2026-11-04', true, 0, 24, 0],
      ['2026-11-05', true, 1, 1, 0],
      ['2026-11-06', false, 0, 0, 0],
    ]);
    expect(report.longestOutageMs).toBe(50 * HOUR);
    expect(report.outages).toBe(1);
    expect(report.connectedMs).toBe(12 * HOUR);
  });

  it('counts an outage still going on at the time of the report, on the day it began', () => {
    // Arrange
    const cursor = settled([on('2026-11-01T08:00:00Z'), off('2026-11-01T09:00:00Z')]);
    // Act
    const report = uptimeReport(
      { saved: [], cursor },
      { from: '2026-11-01', to: '2026-11-01' },
      at('2026-11-01T10:00:00Z'),
      W,
    );
    // Assert
    expect(report.days[0]).toMatchObject({
      outages: 1,
      longestOutageMs: HOUR,
      ongoingOutage: true,
      disconnectedMs: HOUR,
    });
  });

  it('takes the live state from when it moved past the settled timeline (an end still inside W)', () => {
    // Arrange: settled as connected since 08:00; the view says disconnected since 09:59.
    const cursor = settled([on('2026-11-01T08:00:00Z')]);
    // Act
    const report = uptimeReport(
      { saved: [], cursor, live: off('2026-11-01T09:59:00Z') },
      { from: '2026-11-01', to: '2026-11-01' },
      at('2026-11-01T10:00:00Z'),
      W,
    );
    // Assert
    expect(report.days[0]).toMatchObject({ connectedMs: 119 * MINUTE, disconnectedMs: MINUTE, outages: 0 });
  });

  it('reads nothing more for a device never seen, and calls every day unknown before its first settled step', async () => {
    // Arrange: query ports over nothing but a device whose record has no settled step yet.
    const ports = {
      devices: { getUptimeStanding: async (id: string) => (id === 'known' ? {} : undefined) },
      uptimeDays: { savedDays: async () => [] },
    };
    const range = { from: '2026-11-01', to: '2026-11-02' };
    // Act
    const never = await readUptime(ports, 'never-seen', range, at('2026-11-02T12:00:00Z'), W);
    const known = await readUptime(ports, 'known', range, at('2026-11-02T12:00:00Z'), W);
    // Assert
    expect(never).toBeUndefined();
    expect(known?.days.map((d) => d.known)).toEqual([false, false]);
    expect(known?.connectedMs).toBe(0);
  });

  it('lists every date of a range, both ends included', () => {
    expect(datesBetween('2026-02-27', '2026-03-02')).toEqual([
      '2026-02-27',
      '2026-02-28',
      '2026-03-01',
      '2026-03-02',
    ]);
  });
});
