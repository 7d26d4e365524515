import { describe, expect, it } from 'vitest';
import { returnedFrom } from '../../src/domain/alerts.js';
import {
  type FleetAlert,
  grewWith,
  growing,
  incidentIdOf,
  incidentMembers,
  isFleetAlert,
  newIncident,
  type OfflineNotice,
  outageAlert,
  recoveredEnough,
} from '../../src/domain/fleet-incidents.js';
import { type FleetIncidentStore, FleetTracker } from '../../src/domain/fleet-tracker.js';
import type { Alert } from '../../src/domain/ports.js';
import { DEFAULT_FLEET_RULE } from '../../src/domain/settings.js';
import { InMemoryFleetIncidentStore } from '../../src/local/in-memory-fleet.js';
import { InMemoryAlertHistory, RecordingAlertPublisher } from '../../src/local/in-memory-ports.js';

const T0 = 1_793_520_000_000;
const rule = { minDevices: 3, windowMs: 120_000, recoveredShare: 0.9 };

function alert(type: Alert['type'], device: number, since: number): Alert {
  return {
    alertId: `d${device}/${type}/s/${since}`,
    type,
    deviceId: `d${device}`,
    sessionIdentifier: 's',
    since,
    earliestAt: since,
    decidedAt: since,
    ...(type === 'offline' ? { disconnectReason: 'CONNECTION_LOST' as const } : {}),
  };
}

function tracker(
  options: {
    store?: FleetIncidentStore;
    failPublishes?: number;
    returned?: (deviceId: string, since: number) => Promise<boolean>;
  } = {},
) {
  let now = T0;
  const publisher = new RecordingAlertPublisher();
  let failures = options.failPublishes ?? 0;
  const failing = {
    publish: async (...args: Parameters<RecordingAlertPublisher['publish']>) => {
      if (failures > 0) {
        failures -= 1;
        throw new Error('SNS refused');
      }
      await publisher.publish(...args);
    },
  };
  const refused: string[] = [];
  const store = options.store ?? new InMemoryFleetIncidentStore();
  const history = new InMemoryAlertHistory();
  const fleet = new FleetTracker({
    store,
    history,
    publisher: failing,
    clock: { now: () => now },
    rule,
    leaseMs: 30_000,
    ...(options.returned ? { returned: options.returned } : {}),
    onPublishFailure: (a) => refused.push(a.alertId),
  });
  return { fleet, publisher, store, history, refused, advance: (ms: number) => (now += ms) };
}

describe('FleetTracker', () => {
  it('leaves episode alerts alone: they belong to no incident', async () => {
    // Arrange
    const { fleet, publisher } = tracker();
    // Act
    const incident = await fleet.place({ ...alert('offline', 1, T0), type: 'flapping' });
    // Assert
    expect(incident).toBeUndefined();
    expect(publisher.published).toEqual([]);
  });

  it('counts an offline alert without a disconnect reason as UNKNOWN', async () => {
    // Arrange
    const { fleet, publisher } = tracker();
    const bare = (device: number) => {
      const { disconnectReason: _, ...rest } = alert('offline', device, T0 + device);
      return rest;
    };
    // Act
    for (const device of [1, 2, 3]) await fleet.place(bare(device));
    // Assert
    expect(publisher.published[0]?.alert).toMatchObject({ type: 'fleet-outage', reasons: { UNKNOWN: 3 } });
  });

  it('publishes a fleet alert that SNS refused from the sweep, once its lease has ended', async () => {
    // Arrange
    const { fleet, publisher, refused, advance } = tracker({ failPublishes: 1 });
    for (const device of [1, 2, 3]) await fleet.place(alert('offline', device, T0 + device));
    // Act
    const beforeLease = await fleet.sweep();
    advance(31_000);
    const afterLease = await fleet.sweep();
    const again = await fleet.sweep();
    // Assert
    expect(refused).toHaveLength(1);
    expect([beforeLease, afterLease, again]).toEqual([0, 1, 0]);
    expect(publisher.published.map((p) => p.alert.type)).toEqual(['fleet-outage']);
  });

  it('does not publish again a fleet alert already in the history when its publisher died before settling it', async () => {
    // Arrange: the publisher recorded it, then died before settling: its owed entry is still there.
    const store = new InMemoryFleetIncidentStore();
    const { fleet, publisher, advance } = tracker({ store });
    for (const device of [1, 2, 3]) await fleet.place(alert('offline', device, T0 + device));
    const outage = publisher.published[0]?.alert as FleetAlert;
    store.incidents.get(outage.incidentId)?.owed.set(outage.alertId, { alert: outage, retryAt: T0 });
    advance(60_000);
    // Act
    const republished = await fleet.sweep();
    // Assert
    expect(republished).toBe(0);
    expect(publisher.published).toHaveLength(1);
    expect(store.owedCount()).toBe(0);
  });

  it('keeps an owed fleet alert when SNS refuses it again in the sweep', async () => {
    // Arrange
    const { fleet, publisher, advance } = tracker({ failPublishes: 2 });
    for (const device of [1, 2, 3]) await fleet.place(alert('offline', device, T0 + device));
    advance(31_000);
    // Act
    const refusedAgain = await fleet.sweep();
    advance(31_000);
    const accepted = await fleet.sweep();
    // Assert
    expect([refusedAgain, accepted]).toEqual([0, 1]);
    expect(publisher.published).toHaveLength(1);
  });

  it('joins the first open incident whose opening span covers the alert without reading its counts', async () => {
    // Arrange: counts read anywhere would throw; the incident's opening span is what the store gives cheaply.
    const store = new InMemoryFleetIncidentStore();
    const { fleet } = tracker({ store });
    let incidentId: string | undefined;
    for (const device of [1, 2, 3])
      incidentId = (await fleet.place(alert('offline', device, T0 + device))) ?? incidentId;
    const countsRead: FleetIncidentStore = Object.assign(Object.create(store), {
      openIncidents: async () => {
        throw new Error('the counts were read');
      },
      openIncidentsAsOpened: () => store.openIncidentsAsOpened(),
    });
    // Act
    const joined = await tracker({ store: countsRead }).fleet.place(alert('offline', 4, T0 + 2));
    // Assert
    expect(joined).toBe(incidentId);
  });

  it('reads the counts when the opening span does not cover the alert', async () => {
    // Arrange: the store's opening span is the first member's alone, so a later alert needs the counted span.
    const store = new InMemoryFleetIncidentStore();
    const { fleet } = tracker({ store });
    let incidentId: string | undefined;
    for (const device of [1, 2, 3])
      incidentId = (await fleet.place(alert('offline', device, T0 + device))) ?? incidentId;
    const narrowed: FleetIncidentStore = Object.assign(Object.create(store), {
      openIncidentsAsOpened: async () =>
        (await store.openIncidents()).map((i) => ({ ...i, lastSince: i.startedAt - 10 * rule.windowMs })),
    });
    // Act
    const joined = await tracker({ store: narrowed }).fleet.place(alert('offline', 4, T0 + 4));
    // Assert
    expect(joined).toBe(incidentId);
  });

  it('joins an incident that opened after its first look and before it counted the candidates', async () => {
    // Arrange: the first look at open incidents of d4's placement finds none; the incident is there by the second.
    const store = new InMemoryFleetIncidentStore();
    let looks = 0;
    const lateLook = async () => {
      const open = await store.openIncidents();
      if (open.length > 0) looks += 1;
      return looks === 1 ? [] : open;
    };
    const late: FleetIncidentStore = Object.assign(Object.create(store), {
      openIncidents: lateLook,
      openIncidentsAsOpened: async () => [],
    });
    const { fleet } = tracker({ store: late });
    let incidentId: string | undefined;
    for (const device of [1, 2, 3])
      incidentId = (await fleet.place(alert('offline', device, T0 + device))) ?? incidentId;
    // Act
    const joined = await fleet.place(alert('offline', 4, T0 + 4));
    // Assert
    expect(joined).toBe(incidentId);
    expect(looks).toBe(2);
    expect(store.incidents.get(incidentId as string)?.devices).toBe(4);
  });

  it('publishes no fleet-recovered when another reconciler closed the incident first', async () => {
    // Arrange
    const store = new InMemoryFleetIncidentStore();
    const closedElsewhere: FleetIncidentStore = Object.assign(Object.create(store), {
      close: async () => false,
    });
    const { fleet, publisher } = tracker({ store: closedElsewhere });
    for (const device of [1, 2, 3]) await fleet.place(alert('offline', device, T0 + device));
    // Act
    for (const device of [1, 2, 3]) await fleet.place(alert('online', device, T0 + 600_000 + device));
    // Assert
    expect(publisher.published.map((p) => p.alert.type)).toEqual(['fleet-outage']);
  });

  it('closes nothing on a return whose read lagged behind the share; the sweep closes it at its own time', async () => {
    // Arrange: every return's read after counting misses its own recovery.
    const store = new InMemoryFleetIncidentStore();
    const lagging: FleetIncidentStore = Object.assign(Object.create(store), {
      recover: async (incidentId: string, deviceId: string) => {
        const after = await store.recover(incidentId, deviceId);
        return after && { ...after, recovered: after.recovered - 1 };
      },
    });
    const { fleet, publisher, advance } = tracker({ store: lagging });
    for (const device of [1, 2, 3]) await fleet.place(alert('offline', device, T0 + device));
    for (const device of [1, 2, 3]) await fleet.place(alert('online', device, T0 + 600_000 + device));
    const afterReturns = publisher.published.map((p) => p.alert.type);
    // Act
    advance(660_000);
    const swept = await fleet.sweep();
    const again = await fleet.sweep();
    // Assert
    expect(afterReturns).toEqual(['fleet-outage']);
    expect(swept).toBe(1);
    expect(again).toBe(0);
    expect(publisher.published.map((p) => p.alert.type)).toEqual(['fleet-outage', 'fleet-recovered']);
    expect(publisher.published[1]?.alert.since).toBe(T0 + 660_000);
  });

  it('does not close on a read that shows the share back when a consistent read does not', async () => {
    // Arrange: the read after counting shows every member back; the consistent one, the truth (one of three).
    const store = new InMemoryFleetIncidentStore();
    const overstating: FleetIncidentStore = Object.assign(Object.create(store), {
      recover: async (incidentId: string, deviceId: string) => {
        const after = await store.recover(incidentId, deviceId);
        return after && { ...after, recovered: after.devices };
      },
    });
    const { fleet, publisher } = tracker({ store: overstating });
    for (const device of [1, 2, 3]) await fleet.place(alert('offline', device, T0 + device));
    // Act
    await fleet.place(alert('online', 1, T0 + 600_000));
    // Assert
    expect(publisher.published.map((p) => p.alert.type)).toEqual(['fleet-outage']);
  });

  it('skips an owed fleet alert another sweeper claimed first', async () => {
    // Arrange
    const store = new InMemoryFleetIncidentStore();
    const claimingFirst: FleetIncidentStore = Object.assign(Object.create(store), {
      claim: async () => false,
    });
    const { fleet, publisher, advance } = tracker({ store: claimingFirst, failPublishes: 1 });
    for (const device of [1, 2, 3]) await fleet.place(alert('offline', device, T0 + device));
    advance(60_000);
    // Act
    const published = await fleet.sweep();
    // Assert
    expect(published).toBe(0);
    expect(publisher.published).toEqual([]);
  });

  it('joins the incident an alert was taken into while it was being placed', async () => {
    // Arrange: the candidates read back no longer hold this alert: another placement opened an incident with it.
    const store = new InMemoryFleetIncidentStore();
    let reads = 0;
    const racing: FleetIncidentStore = Object.assign(Object.create(store), {
      candidates: async (from: number, to: number) => {
        const found = await store.candidates(from, to);
        if (!found.some((c) => c.deviceId === 'd3')) return found;
        reads += 1;
        return reads === 1 ? found.filter((c) => c.deviceId !== 'd3') : found;
      },
    });
    const { fleet } = tracker({ store: racing });
    await fleet.place(alert('offline', 1, T0 + 1));
    await fleet.place(alert('offline', 2, T0 + 2));
    // Act
    const incidentId = await fleet.place(alert('offline', 3, T0 + 3));
    // Assert
    expect(incidentId).toBeDefined();
    expect(reads).toBe(2);
  });

  it('tries again when another placement opened an incident with some of the same candidates', async () => {
    // Arrange
    const store = new InMemoryFleetIncidentStore();
    let opens = 0;
    const conflicting: FleetIncidentStore = Object.assign(Object.create(store), {
      open: async (...args: Parameters<FleetIncidentStore['open']>) => {
        opens += 1;
        return opens === 1 ? 'conflict' : store.open(...args);
      },
    });
    const { fleet, publisher } = tracker({ store: conflicting });
    await fleet.place(alert('offline', 1, T0 + 1));
    await fleet.place(alert('offline', 2, T0 + 2));
    // Act
    const incidentId = await fleet.place(alert('offline', 3, T0 + 3));
    // Assert
    expect(incidentId).toBeDefined();
    expect(opens).toBe(2);
    expect(publisher.published).toHaveLength(1);
  });

  it('gives up placing an alert after a bounded number of conflicts, leaving it a candidate', async () => {
    // Arrange
    const store = new InMemoryFleetIncidentStore();
    const alwaysConflicting: FleetIncidentStore = Object.assign(Object.create(store), {
      open: async () => 'conflict' as const,
    });
    const { fleet } = tracker({ store: alwaysConflicting });
    await fleet.place(alert('offline', 1, T0 + 1));
    await fleet.place(alert('offline', 2, T0 + 2));
    // Act
    const incidentId = await fleet.place(alert('offline', 3, T0 + 3));
    // Assert
    expect(incidentId).toBeUndefined();
    expect(await store.candidates(0, Number.MAX_SAFE_INTEGER)).toHaveLength(3);
  });

  it('joins a late offline alert to the closed incident its device dropped during, and counts its return', async () => {
    // Arrange: four devices drop at T0; three come back and close the incident before the fourth's alert is decided.
    const store = new InMemoryFleetIncidentStore();
    const { fleet, publisher } = tracker({ store });
    let incidentId: string | undefined;
    for (const device of [1, 2, 3])
      incidentId = (await fleet.place(alert('offline', device, T0 + device))) ?? incidentId;
    for (const device of [1, 2, 3]) await fleet.place(alert('online', device, T0 + 9_000));
    // Act
    const late = await fleet.place(alert('offline', 4, T0 + 4));
    await fleet.place(alert('online', 4, T0 + 9_000));
    const afterClose = await fleet.place(alert('offline', 5, T0 + 10_000));
    // Assert
    expect(late).toBe(incidentId);
    expect(store.incidents.get(incidentId as string)).toMatchObject({
      status: 'closed',
      devices: 4,
      recovered: 4,
    });
    expect(afterClose).toBeUndefined();
    expect(await store.candidates(0, Number.MAX_SAFE_INTEGER)).toMatchObject([{ deviceId: 'd5' }]);
    expect(publisher.published.map((p) => p.alert.type)).toEqual(['fleet-outage', 'fleet-recovered']);
  });

  it('joins the incident another placement opened with the candidates it counted, not with its own', async () => {
    // Arrange: d1-d3 wait as candidates; another placement opens an incident with them between d4's look and count.
    const store = new InMemoryFleetIncidentStore();
    const waiting = [1, 2, 3].map((device) => notice(device, T0 + device));
    for (const candidate of waiting) await store.addCandidate(candidate);
    const other = newIncident(waiting);
    const openedMeanwhile: FleetIncidentStore = Object.assign(Object.create(store), {
      candidates: async (from: number, to: number) => {
        if (!store.incidents.has(other.incidentId))
          await store.open(other, waiting, { alert: outageAlert(other, T0), retryAt: T0 });
        return store.candidates(from, to);
      },
    });
    const { fleet } = tracker({ store: openedMeanwhile });
    // Act
    const joined = await fleet.place(alert('offline', 4, T0 + 4));
    // Assert
    expect(joined).toBe(other.incidentId);
    expect(store.incidents.get(other.incidentId)?.devices).toBe(4);
    expect(await store.candidates(0, Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it('counts as recovered the members that were back before the incident opened, and closes on their share', async () => {
    // Arrange: d1 dropped and came back before d2 and d3 dropped: its return was placed with no incident to count in.
    const back = new Set<string>();
    const { fleet, publisher, store } = tracker({ returned: async (deviceId) => back.has(deviceId) });
    await fleet.place(alert('offline', 1, T0 + 1));
    await fleet.place(alert('online', 1, T0 + 5_000));
    back.add('d1');
    // Act
    await fleet.place(alert('offline', 2, T0 + 6_000));
    const incidentId = await fleet.place(alert('offline', 3, T0 + 7_000));
    for (const device of [2, 3]) await fleet.place(alert('online', device, T0 + 20_000));
    // Assert
    expect(incidentId).toBeDefined();
    expect(publisher.published.map((p) => p.alert.type)).toEqual(['fleet-outage', 'fleet-recovered']);
    expect((store as InMemoryFleetIncidentStore).incidents.get(incidentId as string)).toMatchObject({
      devices: 3,
      recovered: 3,
    });
  });

  it('names a closed incident in the return of a device that was still offline when it closed', async () => {
    // Arrange: ten members; the ninth return (90%) closes the incident.
    const { fleet, publisher } = tracker();
    const devices = Array.from({ length: 10 }, (_, i) => i + 1);
    let incidentId: string | undefined;
    for (const device of devices)
      incidentId = (await fleet.place(alert('offline', device, T0 + device))) ?? incidentId;
    for (const device of devices.slice(0, 9))
      await fleet.place(alert('online', device, T0 + 600_000 + device));
    // Act
    const last = await fleet.place(alert('online', 10, T0 + 900_000));
    // Assert
    expect(publisher.published.map((p) => p.alert.type)).toEqual(['fleet-outage', 'fleet-recovered']);
    expect(publisher.published[1]?.alert).toMatchObject({ stillOffline: 1, devices: 10 });
    expect(last).toBe(incidentId);
  });
});

function notice(device: number, since: number): OfflineNotice {
  return { alertId: `d${device}/offline/${since}`, deviceId: `d${device}`, since, reason: 'CONNECTION_LOST' };
}

describe('fleet incident rules', () => {
  it('opens on the first window that holds enough offline alerts, chaining the ones that follow within a window', () => {
    // Arrange
    const notices = [notice(1, T0), notice(2, T0 + 50_000), notice(3, T0 + 100_000), notice(4, T0 + 210_000)];
    // Act
    const members = incidentMembers(notices, rule);
    // Assert
    expect(members.map((m) => m.deviceId)).toEqual(['d1', 'd2', 'd3', 'd4']);
    expect(incidentMembers(notices.slice(0, 2), rule)).toEqual([]);
  });

  it('stops chaining at the first alert more than a window after the latest member', () => {
    // Arrange
    const notices = [notice(1, T0), notice(2, T0 + 1), notice(3, T0 + 2), notice(4, T0 + 500_000)];
    // Act
    const members = incidentMembers(notices, rule);
    // Assert
    expect(members.map((m) => m.deviceId)).toEqual(['d1', 'd2', 'd3']);
  });

  it('names an incident by its earliest member, the same whatever the order', () => {
    // Arrange
    const notices = [notice(2, T0 + 5), notice(1, T0), notice(3, T0)];
    // Act
    const id = incidentIdOf(notices);
    // Assert
    expect(id).toBe(incidentIdOf([...notices].reverse()));
    expect(id).toMatch(/^20261101T\d{9}Z-[0-9a-f]{8}$/);
    expect(() => incidentIdOf([])).toThrow('an incident needs members');
  });

  it('tells a device back from an outage only once the walk decided its return', () => {
    // Arrange
    const cursor = { at: { sessionIdentifier: 's', versionNumber: 1 }, atTime: T0, through: 'end' as const };
    // Act / Assert
    expect(returnedFrom(undefined, T0)).toBe(false);
    expect(returnedFrom({ ...cursor, outageSince: T0 }, T0)).toBe(false);
    expect(returnedFrom({ ...cursor, through: 'start', atTime: T0 + 5_000 }, T0)).toBe(true);
    expect(returnedFrom({ ...cursor, outageSince: T0 + 60_000 }, T0)).toBe(true);
  });

  it('takes a late alert into a closed incident only if its device dropped before the close, within its span', () => {
    // Arrange
    const closed = { incidentId: 'i', startedAt: T0, lastSince: T0 + 10_000, closedAt: T0 + 60_000 };
    // Act / Assert
    expect(grewWith(closed, T0 + 5_000, rule)).toBe(true);
    expect(grewWith(closed, T0 + 60_000, rule)).toBe(false);
    expect(grewWith(closed, T0 - 120_001, rule)).toBe(false);
  });

  it('grows only while open and within a window of its span', () => {
    // Arrange
    const incident = newIncident([notice(1, T0), notice(2, T0 + 10_000), notice(3, T0 + 20_000)]);
    // Act / Assert
    expect(growing(incident, T0 + 20_000 + 120_000, rule)).toBe(true);
    expect(growing(incident, T0 + 20_000 + 120_001, rule)).toBe(false);
    expect(growing(incident, T0 - 120_001, rule)).toBe(false);
    expect(growing({ ...incident, status: 'closed' }, T0 + 1, rule)).toBe(false);
  });

  it('counts a device once however many of its offline alerts made the incident, and recovers at the share', () => {
    // Arrange
    const incident = newIncident([notice(1, T0), notice(1, T0 + 5), notice(2, T0 + 9)]);
    // Act / Assert
    expect(incident.devices).toBe(2);
    expect(recoveredEnough({ ...incident, recovered: 1 }, DEFAULT_FLEET_RULE)).toBe(false);
    expect(recoveredEnough({ ...incident, recovered: 2 }, DEFAULT_FLEET_RULE)).toBe(true);
    expect(isFleetAlert({ type: 'offline' })).toBe(false);
  });
});
