import { describe, expect, it } from 'vitest';
import {
  FLEET_RECOUNT_MS,
  NO_REASON,
  parseFleetRoute,
  recountDue,
  searchDevices,
  summarizeListing,
} from '../page/fleet.js';
import { duration, exactTime, relativeTime } from '../page/format.js';
import { type DeviceListItem, decodeAlertPage, decodeDevicePage } from '../page/model.js';

function device(deviceId: string, overrides: Partial<DeviceListItem> = {}): DeviceListItem {
  return {
    deviceId,
    status: 'connected',
    since: '2026-11-22T10:00:00.000Z',
    sessionIdentifier: 's',
    disconnectReason: null,
    settled: true,
    ...overrides,
  };
}

describe('fleet counts from the listing', () => {
  it('counts connected, disconnected and unsettled devices, and the disconnected ones per reason', () => {
    // Arrange
    const connected = [device('a'), device('b', { settled: false })];
    const disconnected = [
      device('c', { status: 'disconnected', disconnectReason: 'CONNECTION_LOST' }),
      device('d', { status: 'disconnected', disconnectReason: 'CONNECTION_LOST', settled: false }),
      device('e', { status: 'disconnected', disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT' }),
      device('f', { status: 'disconnected', disconnectReason: null }),
    ];

    // Act
    const summary = summarizeListing(connected, disconnected, true);

    // Assert
    expect(summary).toMatchObject({ connected: 2, disconnected: 4, unsettled: 2, complete: true });
    expect(summary.byReason).toEqual([
      { reason: 'CONNECTION_LOST', count: 2 },
      { reason: 'MQTT_KEEP_ALIVE_TIMEOUT', count: 1 },
      { reason: NO_REASON, count: 1 },
    ]);
  });

  it('reads a GET /fleet answer with counts at the top or under "counts", reasons as a map or a list', () => {
    // Act
    const flat = parseFleetRoute({
      connected: 5,
      disconnected: 2,
      unsettled: 1,
      byReason: { CONNECTION_LOST: 2 },
    });
    const nested = parseFleetRoute({
      counts: { connected: 5, disconnected: 2 },
      disconnectedByReason: [{ reason: 'CONNECTION_LOST', count: 2 }],
    });

    // Assert
    expect(flat).toMatchObject({ connected: 5, disconnected: 2, unsettled: 1, source: 'fleet-route' });
    expect(flat?.byReason).toEqual([{ reason: 'CONNECTION_LOST', count: 2 }]);
    expect(nested).toMatchObject({ connected: 5, disconnected: 2, unsettled: null });
    expect(nested?.byReason).toEqual([{ reason: 'CONNECTION_LOST', count: 2 }]);
  });

  it('does not take an error or a stranger answer for fleet counts', () => {
    // Act & Assert
    expect(parseFleetRoute({ error: 'not found' })).toBeNull();
    expect(parseFleetRoute({ connected: '5', disconnected: 2 })).toBeNull();
    expect(parseFleetRoute([1, 2])).toBeNull();
  });

  it('lists a small fleet again at every refresh, a large one at most every 30 s', () => {
    // Arrange
    const now = 1_000_000;
    const small = { requests: 2, at: now - 1_000 };
    const largeRecent = { requests: 11, at: now - FLEET_RECOUNT_MS + 1 };
    const largeOld = { requests: 11, at: now - FLEET_RECOUNT_MS };

    // Act & Assert
    expect(recountDue(null, now)).toBe(true);
    expect(recountDue(small, now)).toBe(true);
    expect(recountDue(largeRecent, now)).toBe(false);
    expect(recountDue(largeOld, now)).toBe(true);
  });

  it('finds devices by part of their id, case-insensitively, within a status, sorted by id', () => {
    // Arrange
    const devices = [
      device('pump-2'),
      device('Pump-1', { status: 'disconnected' }),
      device('valve-1'),
      device('pump-3', { status: 'disconnected' }),
    ];

    // Act
    const all = searchDevices(devices, 'PUMP', 'all');
    const down = searchDevices(devices, 'pump', 'disconnected');

    // Assert
    expect(all.map((d) => d.deviceId)).toEqual(['Pump-1', 'pump-2', 'pump-3']);
    expect(down.map((d) => d.deviceId)).toEqual(['Pump-1', 'pump-3']);
  });

  it('filters by settled status, as the API lists: a drop inside W is found among the connected devices', () => {
    // Arrange
    const devices = [device('pump-1', { status: 'disconnected', settled: false }), device('pump-2')];

    // Act
    const up = searchDevices(devices, 'pump', 'connected');
    const down = searchDevices(devices, 'pump', 'disconnected');

    // Assert
    expect(up.map((d) => d.deviceId)).toEqual(['pump-1', 'pump-2']);
    expect(down).toEqual([]);
  });
});

describe('reading API answers', () => {
  it('keeps versionNumber when a list item has it, and does not require it', () => {
    // Act
    const page = decodeDevicePage({
      items: [
        {
          deviceId: 'a',
          status: 'connected',
          since: '2026-11-22T10:00:00.000Z',
          settled: true,
          versionNumber: 3,
        },
        {
          deviceId: 'b',
          status: 'disconnected',
          since: null,
          settled: false,
          disconnectReason: 'CONNECTION_LOST',
        },
      ],
      cursor: 'next',
    });

    // Assert
    expect(page.cursor).toBe('next');
    expect(page.items[0]?.versionNumber).toBe(3);
    expect(page.items[1]).not.toHaveProperty('versionNumber');
    expect(page.items[1]).toMatchObject({ disconnectReason: 'CONNECTION_LOST', since: null, settled: false });
  });

  it('drops items that are not devices or alerts instead of failing the page', () => {
    // Act
    const devices = decodeDevicePage({
      items: [{ deviceId: 'a', status: 'sleeping' }, null, 'x'],
      cursor: null,
    });
    const alerts = decodeAlertPage({
      items: [
        { alertId: 'a/offline/s', type: 'offline', deviceId: 'a', since: '2026-11-22T10:00:00.000Z' },
        { alertId: 'b', deviceId: 'b' },
        { alertId: 'c', type: 'offline' },
      ],
    });

    // Assert
    expect(devices.items).toEqual([]);
    expect(alerts.items.map((alert) => alert.alertId)).toEqual(['a/offline/s']);
    expect(alerts.cursor).toBeNull();
  });
});

describe('time on the page', () => {
  it('says how long ago in the two largest units', () => {
    // Arrange
    const now = Date.parse('2026-11-22T12:00:00Z');

    // Act & Assert
    expect(relativeTime(now - 500, now)).toBe('just now');
    expect(relativeTime(now - 42_000, now)).toBe('42 s ago');
    expect(relativeTime(now - 5 * 60_000 - 3_000, now)).toBe('5 min 3 s ago');
    expect(relativeTime(now - 3 * 3_600_000 - 12 * 60_000, now)).toBe('3 h 12 min ago');
    expect(relativeTime(now - 2 * 86_400_000, now)).toBe('2 d ago');
    expect(relativeTime(now + 5_000, now)).toBe('in 5 s');
    expect(duration(0)).toBe('0 s');
  });

  it('writes exact times with their offset from UTC', () => {
    // Arrange
    const at = Date.parse('2026-11-22T22:54:25.227Z');

    // Act & Assert
    expect(exactTime(at, 0)).toBe('2026-11-22 22:54:25 UTC');
    expect(exactTime(at, 60)).toBe('2026-11-22 23:54:25 UTC+01:00');
    expect(exactTime(at, -150)).toBe('2026-11-22 20:24:25 UTC-02:30');
  });
});
