import type { ConnectionRef } from './connection.js';
import type { DeviceEvent } from './device-events.js';
import { applyEvents, emptyFacts, type WillFacts } from './device-facts.js';
import { ConcurrentUpdateError } from './errors.js';
import { type AlertDecision, type DeviceView, evaluateDevice } from './evaluate.js';
import type {
  Alert,
  AlertLedger,
  AlertPublisher,
  CheckScheduler,
  Clock,
  DeviceStore,
  DueDeviceFinder,
} from './ports.js';
import type { PresenceSettings } from './settings.js';

export interface ReconcilerPorts {
  store: DeviceStore;
  ledger: AlertLedger;
  publisher: AlertPublisher;
  scheduler: CheckScheduler;
  dueDevices: DueDeviceFinder;
  clock: Clock;
  settings: PresenceSettings;
  /** Called for alerts that could not be published now; the sweep retries them. */
  onPublishFailure?: (alert: Alert, error: unknown) => void;
  /** Called, once the record no longer keeps it, for each will that no presence end explained. */
  onUnexplainedWill?: (deviceId: string, will: WillFacts) => void;
}

export interface ReconcileOutcome {
  deviceId: string;
  view?: DeviceView;
  alerts: Alert[];
  published: number;
  recheckAt?: number;
  written: boolean;
  attempts: number;
}

const MAX_ATTEMPTS = 8;

/** A connection's name in alert ids and ledger keys: `sessionIdentifier/versionNumber` (births have no version). */
export function connectionName(connection: ConnectionRef): string {
  return connection.versionNumber === undefined
    ? connection.sessionIdentifier
    : `${connection.sessionIdentifier}/${connection.versionNumber}`;
}

export function alertId(
  decision: Pick<AlertDecision, 'deviceId' | 'type' | 'sessionIdentifier' | 'versionNumber'>,
): string {
  return `${decision.deviceId}/${decision.type}/${connectionName(decision)}`;
}

/**
 * Settles devices: folds new events into the stored facts, derives the authoritative state, records owed alerts
 * in the ledger atomically with the state (conditional on the revision read), then publishes them.
 */
export class Reconciler {
  constructor(private readonly ports: ReconcilerPorts) {}

  /** @param fromCheck the call is a scheduled check, whose own message is consumed: always re-arm if pending. */
  async reconcile(
    deviceId: string,
    events: readonly DeviceEvent[] = [],
    fromCheck = false,
  ): Promise<ReconcileOutcome> {
    const { store, clock, settings } = this.ports;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const now = clock.now();
      const stored = await store.load(deviceId);
      const facts = applyEvents(stored?.facts ?? emptyFacts(deviceId), events);
      const evaluation = evaluateDevice(facts, stored?.cursor, now, settings);
      const alerts: Alert[] = evaluation.alerts.map((decision) => ({
        ...decision,
        alertId: alertId(decision),
        decidedAt: now,
      }));
      const unchanged =
        stored !== undefined &&
        alerts.length === 0 &&
        stored.recheckAt === evaluation.recheckAt &&
        JSON.stringify(stored.facts) === JSON.stringify(evaluation.facts) &&
        JSON.stringify(stored.cursor) === JSON.stringify(evaluation.cursor);
      const outcome = {
        deviceId,
        view: evaluation.view,
        alerts,
        recheckAt: evaluation.recheckAt,
        attempts: attempt,
      };
      const nothingKnown = stored === undefined && evaluation.view === undefined && facts.wills.length === 0;
      if (unchanged || nothingKnown) {
        if (fromCheck && evaluation.recheckAt !== undefined) {
          await this.schedule(deviceId, evaluation.recheckAt, now);
        }
        return { ...outcome, published: 0, written: false };
      }
      const result = await store.commit({
        deviceId,
        facts: evaluation.facts,
        cursor: evaluation.cursor,
        view: evaluation.view,
        recheckAt: evaluation.recheckAt,
        expectedRevision: stored?.revision,
        alerts,
        now,
      });
      if (result.status === 'conflict') continue;
      for (const will of evaluation.unexplainedWills) this.ports.onUnexplainedWill?.(deviceId, will);
      const published = await this.publishAll(result.newAlerts);
      if (evaluation.recheckAt !== undefined && (fromCheck || evaluation.recheckAt !== stored?.recheckAt)) {
        await this.schedule(deviceId, evaluation.recheckAt, now);
      }
      return { ...outcome, published, written: true };
    }
    throw new ConcurrentUpdateError(deviceId, MAX_ATTEMPTS);
  }

  /** The scheduled safety net: settles devices whose check is overdue and retries unsent alerts. */
  async sweep(options: { graceMs: number; limit: number }): Promise<{ devices: number; retried: number }> {
    const now = this.ports.clock.now();
    const due = await this.ports.dueDevices.findDue(now - options.graceMs, options.limit);
    for (const deviceId of due) await this.reconcile(deviceId, [], true);
    const unsent = await this.ports.ledger.claimUnsent(this.ports.clock.now(), options.limit);
    const retried = await this.publishAll(unsent);
    return { devices: due.length, retried };
  }

  private async schedule(deviceId: string, recheckAt: number, now: number): Promise<void> {
    await this.ports.scheduler.scheduleCheck(deviceId, recheckAt, now);
  }

  private async publishAll(alerts: readonly Alert[]): Promise<number> {
    let published = 0;
    for (const alert of alerts) {
      const publishedAt = this.ports.clock.now();
      try {
        await this.ports.publisher.publish(alert, publishedAt);
      } catch (error) {
        // The ledger keeps it unsent with a retry time; the sweep publishes it later.
        this.ports.onPublishFailure?.(alert, error);
        continue;
      }
      await this.ports.ledger.markSent(alert, publishedAt);
      published += 1;
    }
    return published;
  }
}
