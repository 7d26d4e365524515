import type { DeviceEvent } from './device-events.js';
import { applyEvents, type DeviceFacts, emptyFacts, type WillFacts } from './device-facts.js';
import { ConcurrentUpdateError } from './errors.js';
import { type AlertCursor, type DeviceView, type Evaluation, evaluateDevice } from './evaluate.js';
import type { FleetTracker } from './fleet-tracker.js';
import type {
  Alert,
  AlertHistory,
  AlertPublisher,
  CheckScheduler,
  Clock,
  DeviceStore,
  EventLog,
  OutboxEntry,
  OutboxFinder,
  StoredDevice,
  UptimeDayStore,
} from './ports.js';
import { listedDisconnectedAt, settledStatus } from './queries.js';
import type { PresenceSettings } from './settings.js';
import { withoutSavedDays } from './uptime.js';

export interface ReconcilerPorts {
  store: DeviceStore;
  /** What a check reads besides the record: the events stored that the stream may not have delivered yet. */
  events: Pick<EventLog, 'storedFrom'>;
  history: AlertHistory;
  publisher: AlertPublisher;
  scheduler: CheckScheduler;
  outboxes: OutboxFinder;
  uptimeDays: UptimeDayStore;
  clock: Clock;
  settings: PresenceSettings;
  /** Fleet incidents: places each offline and online alert before it is published (fleet-tracker.ts). */
  fleet?: Pick<FleetTracker, 'place' | 'sweep'>;
  /** Called for alerts that could not be published now; they stay in the outbox and are retried. */
  onPublishFailure?: (alert: Alert, error: unknown) => void;
  /** Called, once the record no longer keeps it, for each will that no presence end explained. */
  onUnexplainedWill?: (deviceId: string, will: WillFacts) => void;
}

export interface ReconcileOutcome {
  deviceId: string;
  view?: DeviceView;
  /** Alerts decided by this call. */
  alerts: Alert[];
  published: number;
  recheckAt?: number;
  written: boolean;
  attempts: number;
}

const MAX_ATTEMPTS = 8;
/**
 * Calls of the history's record once SNS has accepted an alert (each retried by the SDK client as it retries every
 * request): an alert SNS accepted and the history does not have is published again after its lease.
 */
const RECORD_ATTEMPTS = 3;
/** How long a publisher owns an outbox entry before someone else may publish it. */
export const PUBLISH_LEASE_MS = 30_000;

/**
 * The latest-receive-time fields of the facts: a copy of an event delivered again moves those and nothing else, and
 * is not worth a write. They are brought up to date with the next write that changes anything.
 */
const LATEST_RECEIVE_TIMES: ReadonlySet<string> = new Set([
  'lastEventAt',
  'lastConnectedAt',
  'lastDisconnectedAt',
  'lastWillAt',
]);

/** Whether two facts decide the same: equal data but for the latest receive times. */
const sameDecidingFacts = (a: DeviceFacts, b: DeviceFacts) => sameData(a, b, LATEST_RECEIVE_TIMES);

/**
 * Deep equality of plain data, whatever the key order, with undefined fields taken as absent; the top-level fields
 * named in `ignored` are left out of the comparison.
 */
export function sameData(a: unknown, b: unknown, ignored?: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  // Every reconcile compares the record it read with the one it would write: no arrays or maps made to do it.
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  // The defined fields of a, less those of b: equal data leaves none.
  let definedInLeftOnly = 0;
  // `for...in`, not Object.keys: no array of keys made (plain data has no inherited keys).
  for (const key in left) {
    const value = left[key];
    if (value === undefined || ignored?.has(key)) continue;
    if (!Object.hasOwn(right, key) || !sameData(value, right[key])) return false;
    definedInLeftOnly += 1;
  }
  for (const key in right) if (right[key] !== undefined && !ignored?.has(key)) definedInLeftOnly -= 1;
  return definedInLeftOnly === 0;
}

/**
 * The checks a reconcile consumes: it runs because they arrived. Each is named by the arrival time recorded when
 * it was asked for (undefined: a message of an older format, which does not say).
 */
export interface ConsumedChecks {
  arrivals: ReadonlyArray<number | undefined>;
}

/** How many checks still to come a record remembers (the earliest): forgetting one only costs a spare check. */
const MAX_PENDING_CHECKS = 4;

/**
 * How late after its lease ends an outbox entry is retried at the latest: a check to come within this much of the
 * lease's end carries the retry, else one is asked for at its end (the minute sweep's bound, before checks did it).
 */
const RETRY_WITHIN_MS = 60_000;

/**
 * Whether a check to come arrives at `look` or soon after it: the outbox's retry once its earliest lease ends, or the
 * move of a disconnected device to the disconnected list once W has passed.
 */
const carriesLook = (toCome: readonly number[], look: number | undefined) =>
  look === undefined || toCome.some((arrival) => arrival >= look && arrival <= look + RETRY_WITHIN_MS);

/**
 * The checks still to come for the device, by arrival time: those the record remembers, less the ones being
 * consumed, less the ones whose time has passed (they may have been lost: a spare is asked for). A record written
 * before checks were remembered knows one: its own recheckAt, asked for when it was written. When a consumed check
 * does not say when it was meant to arrive, nothing is known to be still to come.
 */
function checksToCome(stored: StoredDevice | undefined, consumed: ConsumedChecks | undefined, now: number) {
  if (consumed?.arrivals.some((arrival) => arrival === undefined)) return [];
  const remembered = [
    ...(stored?.pendingChecks ?? (stored?.recheckAt === undefined ? [] : [stored.recheckAt])),
  ];
  for (const arrival of consumed?.arrivals ?? []) {
    const index = remembered.indexOf(arrival as number);
    if (index >= 0) remembered.splice(index, 1);
  }
  return remembered.filter((arrival) => arrival > now);
}

/** What one reconcile of a device read and worked out, before it decides what to write. */
interface WriteInputs {
  stored: StoredDevice | undefined;
  /** The stored outbox less the entries the history holds (`Reconciler.unpublished`). */
  outbox: readonly OutboxEntry[];
  settings: PresenceSettings;
  facts: DeviceFacts;
  evaluation: Evaluation;
  cursor: AlertCursor | undefined;
  consumed: ConsumedChecks | undefined;
  now: number;
}

/**
 * What a reconcile owes the store: the alerts it decides and the ones it takes over (entries whose publisher's lease
 * ran out), the outbox that holds them, whether a check must be asked for, and whether anything is worth a write.
 */
function planWrite({
  stored,
  outbox: previous,
  settings,
  facts,
  evaluation,
  cursor,
  consumed,
  now,
}: WriteInputs) {
  const decided: Alert[] = evaluation.alerts.map((decision) => ({ ...decision, decidedAt: now }));
  const takenOver = previous.filter((entry) => entry.retryAt <= now).map((entry) => entry.alert);
  const claimed = [...takenOver, ...decided];
  const outbox: OutboxEntry[] = [
    ...previous.filter((entry) => entry.retryAt > now),
    ...claimed.map((alert) => ({ alert, retryAt: now + PUBLISH_LEASE_MS })),
  ];
  // A check still to come by the next look re-evaluates then, and asks for a later one if needed: a look that
  // moves later (an episode that goes on) costs no message, and no device has two chains of checks.
  const toCome = checksToCome(stored, consumed, now);
  const needsCheck =
    evaluation.recheckAt !== undefined &&
    !toCome.some((arrival) => arrival <= (evaluation.recheckAt as number));
  // The check queue carries the retry of an alert whose publisher fails or dies: a check at the end of its lease;
  // and the move of a device whose end lasts W to the disconnected list (clean ends alike, which owe no alert).
  const leaseEnd = outbox.length > 0 ? Math.min(...outbox.map((entry) => entry.retryAt)) : undefined;
  const listedAs = evaluation.view && settledStatus(evaluation.view, now, settings.settleWindowMs);
  const listingLook =
    listedAs === 'connected' ? listedDisconnectedAt(evaluation.view, settings.settleWindowMs) : undefined;
  const needsLookCheck = !carriesLook(toCome, leaseEnd) || !carriesLook(toCome, listingLook);
  // Published entries the outbox still holds are left out of the next write, but are no reason for one.
  const unchanged =
    stored !== undefined &&
    claimed.length === 0 &&
    stored.recheckAt === evaluation.recheckAt &&
    sameDecidingFacts(stored.facts, evaluation.facts) &&
    sameData(stored.cursor, cursor) &&
    stored.listedAs === listedAs;
  // Nothing known has nothing to look at later either.
  const knowsNothing = stored === undefined && evaluation.view === undefined && facts.wills.length === 0;
  const worthWriting = !knowsNothing && !(unchanged && !needsCheck && !needsLookCheck);
  return {
    decided,
    takenOver,
    claimed,
    outbox,
    toCome,
    needsCheck,
    looks: [leaseEnd, listingLook],
    listedAs,
    worthWriting,
  };
}

/**
 * Settles devices: folds new events into the stored facts, derives the authoritative state, and records owed
 * alerts in the device's outbox in the same conditional write as the cursor that decided them. Then it publishes
 * them and records them in the history. Exactly once on at-least-once delivery: the cursor never decides an alert
 * twice, and an alert is only published by the holder of its lease. A published alert stays in the outbox until the
 * device's next write: the history then says it is done, and the write leaves it out (clearing it at once would
 * cost a write of its own for every alert).
 */
export class Reconciler {
  constructor(private readonly ports: ReconcilerPorts) {}

  /** @param consumed the scheduled checks this call runs for (their messages are consumed). */
  async reconcile(
    deviceId: string,
    events: readonly DeviceEvent[] = [],
    consumed?: ConsumedChecks,
  ): Promise<ReconcileOutcome> {
    const { store, clock, settings } = this.ports;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const now = clock.now();
      const stored = await store.load(deviceId);
      const outbox = await this.unpublished(stored?.outbox ?? []);
      const known = applyEvents(stored?.facts ?? emptyFacts(deviceId), events);
      const { facts, evaluation } = await this.evaluate(known, stored?.cursor, now);
      const cursor = await this.saveFinishedDays(deviceId, stored, evaluation.cursor);
      const plan = planWrite({ stored, outbox, settings, facts, evaluation, cursor, consumed, now });
      const outcome = {
        deviceId,
        view: evaluation.view,
        alerts: plan.decided,
        recheckAt: evaluation.recheckAt,
        attempts: attempt,
      };
      if (!plan.worthWriting) return { ...outcome, published: 0, written: false };
      const pendingChecks = await this.askChecks(deviceId, plan, evaluation.recheckAt, now);
      const written: Omit<StoredDevice, 'revision'> & { view?: DeviceView } = {
        facts: evaluation.facts,
        cursor,
        view: evaluation.view,
        recheckAt: evaluation.recheckAt,
        ...(pendingChecks.length > 0 ? { pendingChecks } : {}),
        outbox: plan.outbox,
        listedAs: plan.listedAs,
      };
      const result = await store.commit({ deviceId, ...written, expectedRevision: stored?.revision, now });
      if (result.status === 'conflict') continue;
      for (const will of evaluation.unexplainedWills) this.ports.onUnexplainedWill?.(deviceId, will);
      const published = await this.publishAll(
        plan.claimed,
        new Set(plan.takenOver.map((alert) => alert.alertId)),
      );
      return { ...outcome, published: published.length, written: true };
    }
    throw new ConcurrentUpdateError(deviceId, MAX_ATTEMPTS);
  }

  /**
   * Evaluates the device. An evaluation that owes an alert first folds the events stored from W before the latest it
   * knows (folding is idempotent; a return or a takeover's connect is never older than that): a stream batch that
   * keeps failing can hold a device's return back for longer than W, while a check, the sweep or the batch of the
   * end itself finds W passed. The alert is decided on what is stored.
   */
  private async evaluate(
    known: DeviceFacts,
    cursor: AlertCursor | undefined,
    now: number,
  ): Promise<{ facts: DeviceFacts; evaluation: Evaluation }> {
    const { settings, events } = this.ports;
    const evaluation = evaluateDevice(known, cursor, now, settings);
    if (evaluation.alerts.length === 0) return { facts: known, evaluation };
    const from = Math.max(0, (known.lastEventAt ?? 0) - settings.settleWindowMs);
    const facts = applyEvents(known, await events.storedFrom(known.deviceId, from));
    return { facts, evaluation: evaluateDevice(facts, cursor, now, settings) };
  }

  /**
   * The scheduled safety net: publishes what outboxes written before checks carried the retry still hold (the
   * devices' legacy unsent index), and sweeps fleet incidents.
   */
  async sweep(options: { limit: number }): Promise<{ devices: number; retried: number }> {
    const unsent = await this.ports.outboxes.findUnsent(this.ports.clock.now(), options.limit);
    let retried = 0;
    for (const deviceId of unsent) retried += (await this.reconcile(deviceId)).published;
    retried += (await this.ports.fleet?.sweep()) ?? 0;
    return { devices: unsent.length, retried };
  }

  /**
   * The outbox less the entries the history holds: their publisher published them and left them there. Asked at
   * each look while the outbox holds any (one read per entry), so the next write leaves them out and the record stays
   * small; an entry still under another publisher's lease and not yet recorded is kept as it is.
   */
  private async unpublished(outbox: readonly OutboxEntry[]): Promise<OutboxEntry[]> {
    const kept: OutboxEntry[] = [];
    for (const entry of outbox) if (!(await this.ports.history.has(entry.alert))) kept.push(entry);
    return kept;
  }

  /**
   * Uptime days the stored record finished are saved on their own before the record is written without them: an
   * outbox, so a day is never lost and saving it twice writes the same figures.
   */
  private async saveFinishedDays(
    deviceId: string,
    stored: StoredDevice | undefined,
    cursor: AlertCursor | undefined,
  ): Promise<AlertCursor | undefined> {
    const finished = stored?.cursor?.uptime?.unsaved ?? [];
    if (finished.length === 0 || !cursor?.uptime) return cursor;
    await this.ports.uptimeDays.save(deviceId, finished);
    return { ...cursor, uptime: withoutSavedDays(cursor.uptime, finished) };
  }

  /**
   * The checks still to come once those the write needs are asked for: the next look's, then, unless a check to
   * come carries them, the retry's at the end of the outbox's lease and the move to the disconnected list. They are
   * asked for before the state that needs them is written (a conflict only costs a spare check), and the record
   * remembers when they arrive.
   */
  private async askChecks(
    deviceId: string,
    plan: { toCome: number[]; needsCheck: boolean; looks: Array<number | undefined> },
    recheckAt: number | undefined,
    now: number,
  ): Promise<number[]> {
    const toCome = [...plan.toCome];
    if (plan.needsCheck) toCome.push(await this.schedule(deviceId, recheckAt as number, now));
    for (const look of plan.looks) {
      if (!carriesLook(toCome, look)) toCome.push(await this.schedule(deviceId, look as number, now));
    }
    return toCome.sort((a, b) => a - b).slice(0, MAX_PENDING_CHECKS);
  }

  /** Asks for a check; returns when it will arrive. */
  private schedule(deviceId: string, recheckAt: number, now: number): Promise<number> {
    return this.ports.scheduler.scheduleCheck(deviceId, recheckAt, now);
  }

  /**
   * Publishes the alerts this call holds the lease of; returns the ids that SNS accepted (or that were in the history
   * by then: their publisher, late past its lease, recorded them meanwhile).
   */
  private async publishAll(alerts: readonly Alert[], takenOver: ReadonlySet<string>): Promise<string[]> {
    const done: string[] = [];
    for (const alert of alerts) {
      // Only an entry taken over from another publisher can already be in the history.
      if (takenOver.has(alert.alertId) && (await this.ports.history.has(alert))) {
        done.push(alert.alertId);
        continue;
      }
      let publishedAt: number;
      try {
        // Placed first, so that the message can name its incident; placing again changes nothing.
        const incidentId = await this.ports.fleet?.place(alert);
        publishedAt = this.ports.clock.now();
        await this.ports.publisher.publish(alert, publishedAt, incidentId);
      } catch (error) {
        // It stays in the outbox; when its lease ends, the check asked for then (or the next reconcile) publishes it.
        this.ports.onPublishFailure?.(alert, error);
        continue;
      }
      await this.recordPublished(alert, publishedAt);
      done.push(alert.alertId);
    }
    return done;
  }

  /** Records an alert SNS accepted, trying again when the store fails: the one failure here that duplicates it. */
  private async recordPublished(alert: Alert, publishedAt: number): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.ports.history.record(alert, publishedAt);
        return;
      } catch (error) {
        if (attempt >= RECORD_ATTEMPTS) throw error;
      }
    }
  }
}
