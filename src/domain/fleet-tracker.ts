/**
 * Applies the fleet-incident rules (fleet-incidents.ts) as device alerts are published, through the
 * FleetIncidentStore port. Every step is idempotent, so a device alert placed again after a crash or a retry
 * changes nothing; fleet alerts are decided by conditional writes and published by the holder of their lease,
 * exactly as device alerts are (reconciler.ts).
 */
import {
  type ClosedSpan,
  type FleetAlert,
  type FleetRule,
  grewWith,
  growing,
  type Incident,
  incidentMembers,
  newIncident,
  type OfflineNotice,
  outageAlert,
  recoveredAlert,
  recoveredEnough,
} from './fleet-incidents.js';
import type { Alert, AlertHistory, AlertPublisher, Clock } from './ports.js';

/** What placing reads of a device alert. */
export type PlacedAlert = Pick<Alert, 'type' | 'alertId' | 'deviceId' | 'since' | 'disconnectReason'>;

/** A fleet alert decided and not yet confirmed published; `retryAt` ends its publisher's lease. */
export interface OwedFleetAlert {
  alert: FleetAlert;
  retryAt: number;
}

export interface FleetIncidentStore {
  /** The incidents still open (a handful at most). */
  openIncidents(): Promise<Incident[]>;
  /**
   * The same incidents, in the same order, as they opened: spans that later members may only have widened. Cheaper
   * where the incident's counts are spread over many items.
   */
  openIncidentsAsOpened(): Promise<Incident[]>;
  /** The spans of the incidents closed after `after` (kept two days): late offline alerts may belong to them. */
  closedSpans(after: number): Promise<ClosedSpan[]>;
  /**
   * Counts the device as a member (once), of an open incident or of a closed one it dropped during; 'already' when
   * it was one. Removes its candidate, if any.
   */
  join(incidentId: string, notice: OfflineNotice): Promise<'joined' | 'already'>;
  /** Keeps an offline alert that no incident took (idempotent). */
  addCandidate(notice: OfflineNotice): Promise<void>;
  /** Candidates whose `since` is in [from, to], read consistently. */
  candidates(from: number, to: number): Promise<OfflineNotice[]>;
  /**
   * Creates the incident with its members and its owed alert, removing the members from the candidates; all or
   * nothing. 'conflict' when another writer took one of those candidates first.
   */
  open(
    incident: Incident,
    members: readonly OfflineNotice[],
    owed: OwedFleetAlert,
  ): Promise<'opened' | 'conflict'>;
  /**
   * The incidents the device is a member of and has not come back from, open or closed: a device still offline
   * when its incident closed names it when it does come back.
   */
  unrecoveredMemberships(deviceId: string): Promise<string[]>;
  /**
   * Counts the device as recovered (once); the incident after that as a read that may lag shows it (its counts at
   * most what they are), or undefined if it already was.
   */
  recover(incidentId: string, deviceId: string): Promise<Incident | undefined>;
  /** One incident, read consistently, while it is open. */
  openIncident(incidentId: string): Promise<Incident | undefined>;
  /** Closes an open incident (its span as read) with its owed alert; false if it was already closed. */
  close(incident: Incident, closedAt: number, owed: OwedFleetAlert): Promise<boolean>;
  /** Fleet alerts still owed whose lease ended before `before`. */
  owedAlerts(before: number): Promise<OwedFleetAlert[]>;
  /** Takes over an owed alert whose lease ended: false if someone else did. */
  claim(owed: OwedFleetAlert, leaseUntil: number): Promise<boolean>;
  /** The alert is published and recorded: it is owed no more. */
  settle(alert: FleetAlert): Promise<void>;
}

export interface FleetTrackerPorts {
  store: FleetIncidentStore;
  history: AlertHistory<FleetAlert>;
  publisher: AlertPublisher<FleetAlert>;
  clock: Clock;
  rule: FleetRule;
  leaseMs: number;
  /**
   * Whether the device is back from the outage its offline alert of `since` told (its online alert decided). An
   * incident that opens with other devices' offline alerts asks it of them: a device back before it was a member
   * placed its online alert before the incident existed.
   */
  returned?: (deviceId: string, since: number) => Promise<boolean>;
  onPublishFailure?: (alert: FleetAlert, error: unknown) => void;
}

const MAX_ATTEMPTS = 8;

export class FleetTracker {
  constructor(private readonly ports: FleetTrackerPorts) {}

  /**
   * Places a device alert about to be published: an offline alert joins or opens an incident, an online alert
   * counts its device as recovered. Returns the incident the device alert belongs to, for its message.
   */
  async place(alert: PlacedAlert): Promise<string | undefined> {
    if (alert.type === 'offline') return this.placeOffline(alert);
    if (alert.type === 'online') return this.placeOnline(alert.deviceId, alert.since);
    return undefined;
  }

  /**
   * The safety net: publishes fleet alerts whose publisher's lease ended, and closes the incidents whose share came
   * back without the return that tipped it seeing so (its read lagged).
   */
  async sweep(): Promise<number> {
    const { store, clock, leaseMs, rule } = this.ports;
    let published = 0;
    for (const owed of await store.owedAlerts(clock.now())) {
      if (!(await store.claim(owed, clock.now() + leaseMs))) continue;
      if (await this.ports.history.has(owed.alert)) {
        await store.settle(owed.alert);
        continue;
      }
      if (await this.publish(owed.alert)) published += 1;
    }
    for (const incident of await store.openIncidents()) {
      if (recoveredEnough(incident, rule) && (await this.close(incident, clock.now()))) published += 1;
    }
    return published;
  }

  private async placeOffline(alert: PlacedAlert): Promise<string | undefined> {
    const { store, rule } = this.ports;
    const notice: OfflineNotice = {
      alertId: alert.alertId,
      deviceId: alert.deviceId,
      since: alert.since,
      reason: alert.disconnectReason ?? 'UNKNOWN',
    };
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const joined =
        (await this.joinGrowing(notice)) ?? (attempt === 1 ? await this.joinClosed(notice) : undefined);
      if (joined) return joined;
      await store.addCandidate(notice);
      // An incident may have opened meanwhile, with or without this alert: look again before counting.
      const afterAdding = await this.joinGrowing(notice);
      if (afterAdding) return afterAdding;
      const around = await store.candidates(
        notice.since - 2 * rule.windowMs,
        notice.since + 2 * rule.windowMs,
      );
      if (!around.some((c) => c.alertId === notice.alertId)) continue; // taken into an incident: join it
      const members = incidentMembers(around, rule);
      // An incident that opened since the last look took the candidates counted on here, and may take this one.
      if (!members.some((m) => m.alertId === notice.alertId)) return this.joinGrowing(notice);
      const incident = newIncident(members);
      const owed = { alert: outageAlert(incident, this.ports.clock.now()), retryAt: this.leaseEnd() };
      if ((await store.open(incident, members, owed)) === 'conflict') continue;
      await this.publish(owed.alert);
      await this.recoverReturned(
        incident.incidentId,
        members.filter((m) => m.alertId !== notice.alertId),
      );
      return incident.incidentId;
    }
    return undefined;
  }

  private async joinGrowing(notice: OfflineNotice): Promise<string | undefined> {
    const { store, rule } = this.ports;
    // A span only widens: when the first open incident covers the alert as it opened, it covers it now, and it is
    // the one to join whatever the others' spans (a storm's placements, nearly all of them, read no counts).
    const [first] = await store.openIncidentsAsOpened();
    const incident =
      first && growing(first, notice.since, rule)
        ? first
        : (await store.openIncidents()).find((i) => growing(i, notice.since, rule));
    if (!incident) return undefined;
    await this.ports.store.join(incident.incidentId, notice);
    return incident.incidentId;
  }

  /** A late offline alert whose device dropped while a since-closed incident grew is that incident's. */
  private async joinClosed(notice: OfflineNotice): Promise<string | undefined> {
    const { store, rule } = this.ports;
    const closed = (await store.closedSpans(notice.since)).find((span) => grewWith(span, notice.since, rule));
    if (!closed) return undefined;
    await store.join(closed.incidentId, notice);
    return closed.incidentId;
  }

  /** `backAt`: when the device was seen back; the incident that it tips into recovery closes then. */
  private async placeOnline(deviceId: string, backAt: number): Promise<string | undefined> {
    const memberships = await this.ports.store.unrecoveredMemberships(deviceId);
    for (const incidentId of memberships) await this.recover(incidentId, deviceId, backAt);
    return memberships[0];
  }

  /** The members of a new incident that were back before it opened: counted back now, the incident's time. */
  private async recoverReturned(incidentId: string, members: readonly OfflineNotice[]): Promise<void> {
    const { returned } = this.ports;
    if (!returned) return;
    for (const member of members) {
      if (await returned(member.deviceId, member.since))
        await this.recover(incidentId, member.deviceId, this.ports.clock.now());
    }
  }

  private async recover(incidentId: string, deviceId: string, backAt: number): Promise<void> {
    const { store, rule } = this.ports;
    // The read after counting may lag, never lead: the share it shows back is back, and is confirmed consistently
    // (joins it missed would lower it).
    const seen = await store.recover(incidentId, deviceId);
    if (seen?.status !== 'open' || !recoveredEnough(seen, rule)) return;
    const incident = await store.openIncident(incidentId);
    if (incident && recoveredEnough(incident, rule)) await this.close(incident, backAt);
  }

  /** Closes the incident at `closedAt` and publishes its fleet-recovered alert; false if another closed it first. */
  private async close(incident: Incident, closedAt: number): Promise<boolean> {
    const owed = {
      alert: recoveredAlert(incident, closedAt, this.ports.clock.now()),
      retryAt: this.leaseEnd(),
    };
    if (!(await this.ports.store.close(incident, closedAt, owed))) return false;
    return this.publish(owed.alert);
  }

  private leaseEnd(): number {
    return this.ports.clock.now() + this.ports.leaseMs;
  }

  /** Publishes a fleet alert this caller holds the lease of; false if SNS refused it (the sweep retries). */
  private async publish(alert: FleetAlert): Promise<boolean> {
    const publishedAt = this.ports.clock.now();
    try {
      await this.ports.publisher.publish(alert, publishedAt);
    } catch (error) {
      this.ports.onPublishFailure?.(alert, error);
      return false;
    }
    await this.ports.history.record(alert, publishedAt);
    await this.ports.store.settle(alert);
    return true;
  }
}
