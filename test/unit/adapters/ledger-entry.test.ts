import { describe, expect, it } from 'vitest';
import {
  alertKey,
  decodeLedgerEntry,
  encodeLedgerEntry,
  LEDGER_ENTRY_SCHEMA_VERSION,
} from '../../../src/adapters/dynamodb/ledger-entry.js';
import type { FleetAlert } from '../../../src/domain/fleet-incidents.js';
import type { Alert } from '../../../src/domain/ports.js';
import { refusalOf } from '../../fixtures/refusal.js';

const DECIDED = 1_793_520_000_000;
const PUBLISHED = DECIDED + 1_500;
const EXPIRES = Math.floor(PUBLISHED / 1000) + 90 * 86_400;

const offline: Alert = {
  alertId: 'a-1',
  type: 'offline',
  deviceId: 'thing-1',
  sessionIdentifier: 's-1',
  versionNumber: 4,
  disconnectReason: 'LAST_WILL',
  abrupt: true,
  lastWill: { state: 'gone' },
  lastWillAt: DECIDED - 10,
  since: DECIDED - 120_000,
  earliestAt: DECIDED - 120_000,
  decidedAt: DECIDED,
};
const online: Alert = {
  alertId: 'a-2',
  type: 'online',
  deviceId: 'thing-1',
  sessionIdentifier: 's-2',
  since: DECIDED,
  earliestAt: DECIDED,
  outageMs: 60_000,
  decidedAt: DECIDED,
};

const flapping: Alert = {
  alertId: 'thing-1/flapping/1793519990000',
  type: 'flapping',
  deviceId: 'thing-1',
  sessionIdentifier: 's-7',
  versionNumber: 7,
  since: DECIDED - 10_000,
  earliestAt: DECIDED - 10_000,
  count: 6,
  windowMs: 3_600_000,
  medianGapMs: 12_000,
  reasons: { CONNECTION_LOST: 4, MQTT_KEEP_ALIVE_TIMEOUT: 2 },
  decidedAt: DECIDED,
};

const fleetOutage: FleetAlert = {
  alertId: '$fleet/fleet-outage/i-1',
  type: 'fleet-outage',
  deviceId: '$fleet',
  incidentId: 'i-1',
  since: DECIDED - 60_000,
  startedAt: DECIDED - 60_000,
  devices: 25,
  reasons: { CONNECTION_LOST: 20, LAST_WILL: 5 },
  sampleDeviceIds: ['thing-1', 'thing-2'],
  decidedAt: DECIDED,
};

describe('the stored alert-ledger entry', () => {
  it.each([
    ['an offline alert', offline],
    ['an online alert', online],
    ['a flapping alert', flapping],
    ['a fleet-outage alert', fleetOutage],
  ] as Array<[string, Alert | FleetAlert]>)('reads back %s exactly as it was written', (_label, alert) => {
    // Arrange
    const item = encodeLedgerEntry(alert, PUBLISHED, EXPIRES);

    // Act
    const entry = decodeLedgerEntry(item);

    // Assert
    expect(item).toMatchObject({
      schemaVersion: LEDGER_ENTRY_SCHEMA_VERSION,
      day: '2026-11-01',
      expiresAt: EXPIRES,
    });
    expect(entry).toEqual({ alert, status: 'sent', publishedAt: PUBLISHED });
  });

  it('reads an entry written before the schema version existed as version 1, without a publish time', () => {
    // Arrange
    const { schemaVersion: _, publishedAt: __, ...legacy } = encodeLedgerEntry(online, PUBLISHED, EXPIRES);

    // Act
    const entry = decodeLedgerEntry(legacy);

    // Assert
    expect(entry).toEqual({ alert: online, status: 'sent' });
  });

  it.each([
    ['an entry of another schema version', { schemaVersion: 2 }, /^schemaVersion: /],
    ['an entry of an unknown status', { status: 'queued' }, /^status: /],
    ['an alert that is not JSON', { alert: 'nope' }, /not JSON/],
    [
      'an alert of an unknown type',
      { alert: JSON.stringify({ ...offline, type: 'rebooting' }) },
      /^alert\.type: /,
    ],
    [
      'an alert without its decision time',
      { alert: JSON.stringify({ ...offline, decidedAt: 'soon' }) },
      /^alert\.decidedAt: /,
    ],
  ])('refuses %s with its key and the reason', (_label, damage, reason) => {
    // Arrange
    const damaged = { ...encodeLedgerEntry(offline, PUBLISHED, EXPIRES), ...damage };

    // Act
    const refusal = refusalOf(() => decodeLedgerEntry(damaged));

    // Assert
    expect(refusal.key).toBe(`alert thing-1/${alertKey(offline)}`);
    expect(refusal.reason).toMatch(reason);
  });

  it('refuses a fleet alert without its incident with its key and the reason', () => {
    // Arrange
    const { incidentId: _, ...withoutIncident } = fleetOutage;
    const damaged = {
      ...encodeLedgerEntry(fleetOutage, PUBLISHED, EXPIRES),
      alert: JSON.stringify(withoutIncident),
    };

    // Act
    const refusal = refusalOf(() => decodeLedgerEntry(damaged));

    // Assert
    expect(refusal.key).toBe(`alert $fleet/${alertKey(fleetOutage)}`);
    expect(refusal.reason).toMatch(/^alert\.incidentId: /);
  });

  it('names an entry without a readable key by what it has', () => {
    // Act
    const refusal = refusalOf(() => decodeLedgerEntry(null));

    // Assert
    expect(refusal.key).toBe('alert ?/?');
  });
});
