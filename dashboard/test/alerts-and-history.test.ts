import { describe, expect, it } from 'vitest';
import { duration } from '../page/format.js';
import {
  addSample,
  chartLines,
  type FleetSample,
  GAP_MS,
  HISTORY_MS,
  parseSamples,
} from '../page/history.js';
import { ALERT_KINDS, alertKindLabel, alertWords, decodeAlert, decodeIncident } from '../page/model.js';

const SINCE = '2026-11-22T10:00:00.000Z';

/** One alert of each kind, as GET /alerts answers it. */
const ANSWERS: Record<(typeof ALERT_KINDS)[number], Record<string, unknown>> = {
  offline: {
    alertId: 'o',
    type: 'offline',
    deviceId: 'd1',
    disconnectReason: 'CONNECTION_LOST',
    since: SINCE,
  },
  online: { alertId: 'n', type: 'online', deviceId: 'd1', outageSeconds: 95, since: SINCE },
  'clientid-conflict': {
    alertId: 'c',
    type: 'clientid-conflict',
    deviceId: 'fight-1',
    takeovers: 8,
    windowSeconds: 60,
    principalIdentifiers: ['p1', 'p2'],
    ipAddresses: ['10.0.0.1', '10.0.0.2'],
    since: SINCE,
  },
  flapping: {
    alertId: 'f',
    type: 'flapping',
    deviceId: 'flap-1',
    ends: 6,
    windowSeconds: 3600,
    medianGapSeconds: 3,
    reasons: { CONNECTION_LOST: 6 },
    since: SINCE,
  },
  'fleet-outage': {
    alertId: 'fo',
    type: 'fleet-outage',
    incidentId: '20261122T100000Z-0a1b2c3d',
    devices: 30,
    reasons: { CONNECTION_LOST: 28, MQTT_KEEP_ALIVE_TIMEOUT: 2 },
    startedAt: SINCE,
    since: SINCE,
  },
  'fleet-recovered': {
    alertId: 'fr',
    type: 'fleet-recovered',
    incidentId: '20261122T100000Z-0a1b2c3d',
    devices: 30,
    durationSeconds: 75,
    stillOffline: 1,
    since: SINCE,
  },
};

describe('alerts on the page', () => {
  it('says every alert kind in its own words', () => {
    // Act
    const said = Object.fromEntries(
      ALERT_KINDS.map((kind) => {
        const alert = decodeAlert(ANSWERS[kind]);
        return [kind, alert && `${alertKindLabel(alert.type)} | ${alertWords(alert, duration)}`];
      }),
    );

    // Assert
    expect(said).toEqual({
      offline: 'offline | offline: CONNECTION_LOST',
      online: 'online | back online after 1 min 35 s',
      'clientid-conflict':
        'clientId conflict | clientId conflict: 8 takeovers in 1 min from 10.0.0.1, 10.0.0.2, 2 principals',
      flapping: 'flapping | flapping: 6 drops in 1 h, median 3 s away',
      'fleet-outage':
        'fleet outage | fleet outage: 30 devices offline (28 CONNECTION_LOST, 2 MQTT_KEEP_ALIVE_TIMEOUT)',
      'fleet-recovered': 'fleet recovered | fleet recovered after 1 min 15 s: 1 of 30 devices still offline',
    });
  });

  it('keeps a fleet alert without a device and an unknown kind by its name, and drops what names neither device nor incident', () => {
    // Act
    const fleet = decodeAlert(ANSWERS['fleet-outage']);
    const later = decodeAlert({ alertId: 'x', type: 'battery-low', deviceId: 'd2' });
    const noIncident = decodeAlert({ alertId: 'y', type: 'fleet-outage', devices: 3 });
    const noDevice = decodeAlert({ alertId: 'z', type: 'clientid-conflict' });

    // Assert
    expect(fleet).toMatchObject({ deviceId: null, incidentId: '20261122T100000Z-0a1b2c3d', devices: 30 });
    expect(later && alertWords(later, duration)).toBe('battery-low');
    expect(noIncident).toBeNull();
    expect(noDevice).toBeNull();
  });

  it('reads an incident with its member devices', () => {
    // Act
    const incident = decodeIncident({
      incidentId: 'i',
      status: 'open',
      startedAt: SINCE,
      devices: 30,
      recovered: 2,
      stillOffline: 28,
      reasons: { CONNECTION_LOST: 30 },
      deviceList: { items: [{ deviceId: 'a', since: SINCE, reason: 'CONNECTION_LOST', recovered: true }, 7] },
    });

    // Assert
    expect(incident).toMatchObject({ status: 'open', devices: 30, stillOffline: 28 });
    expect(incident?.members).toEqual([
      { deviceId: 'a', since: SINCE, reason: 'CONNECTION_LOST', recovered: true },
    ]);
  });
});

describe('the fleet chart', () => {
  const NOW = Date.parse('2026-11-22T12:00:00Z');
  const sample = (minutesAgo: number, connected: number, disconnected = 0): FleetSample => ({
    at: NOW - minutesAgo * 60_000,
    connected,
    disconnected,
  });

  it('keeps one sample per refresh, replaces one taken moments before, and forgets what is older than the chart', () => {
    // Arrange
    let samples: FleetSample[] = [sample(7 * 60, 1), sample(10, 30), sample(5, 30)];

    // Act
    samples = addSample(samples, sample(1, 0, 30));
    samples = addSample(samples, { at: NOW - 55_000, connected: 0, disconnected: 30 });

    // Assert
    expect(samples.map((kept) => kept.at)).toEqual([NOW - 10 * 60_000, NOW - 5 * 60_000, NOW - 55_000]);
  });

  it('opens on the oldest sample it has and breaks its lines where nothing was read', () => {
    // Arrange: read for four minutes, nothing for more than an hour, then for two
    const samples = [sample(80, 30), sample(78, 30), sample(76, 0, 30), sample(2, 30), sample(0, 30)];

    // Act
    const lines = chartLines(samples, NOW, 1000, 100);

    // Assert
    expect(GAP_MS).toBeLessThan(60 * 60_000);
    expect(lines?.from).toBe(NOW - 80 * 60_000);
    expect(lines?.top).toBe(30);
    expect(lines?.connected).toHaveLength(2);
    expect(lines?.disconnected[0]?.split(' ')).toEqual(['0.0,100.0', '25.0,100.0', '50.0,0.0']);
    expect(chartLines([sample(HISTORY_MS / 60_000 + 1, 5)], NOW, 1000, 100)).toBeNull();
  });

  it('drops malformed stored samples', () => {
    expect(parseSamples('not json')).toEqual([]);
    expect(
      parseSamples(JSON.stringify([{ at: 2, connected: 1, disconnected: 0 }, { at: 'x' }, null])),
    ).toEqual([{ at: 2, connected: 1, disconnected: 0 }]);
  });
});
