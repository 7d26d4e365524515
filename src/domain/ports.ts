import type { DeviceEvent } from './device-events.js';
import type { DeviceFacts } from './device-facts.js';
import type { AlertCursor, AlertDecision, DeviceView } from './evaluate.js';
import type { CountDeltas } from './fleet-counts.js';
import type { FleetAlert } from './fleet-incidents.js';
import type { UptimeDay } from './uptime.js';

/** Time is a parameter of the domain: adapters give the wall clock, replays a virtual one. */
export interface Clock {
  now(): number;
}

/** An alert decision as recorded and published. */
export interface Alert extends AlertDecision {
  decidedAt: number;
}

/**
 * The device's outbox: alerts decided (in the same conditional write as the cursor that decided them), kept until a
 * write after the history has them. `retryAt` is the end of the current publisher's lease: after it, anyone may take
 * over an entry the history does not have.
 */
export interface OutboxEntry {
  alert: Alert;
  retryAt: number;
}

export interface StoredDevice {
  facts: DeviceFacts;
  cursor?: AlertCursor;
  recheckAt?: number;
  /** When the checks asked for and still to come arrive (ascending): a later look needs no message of its own. */
  pendingChecks?: number[];
  outbox: OutboxEntry[];
  /** The list the device's last write put it in (settledStatus); absent for records written before lists were. */
  listedAs?: DeviceView['status'];
  revision: number;
}

export interface DeviceCommit {
  deviceId: string;
  facts: DeviceFacts;
  cursor?: AlertCursor;
  view?: DeviceView;
  recheckAt?: number;
  pendingChecks?: number[];
  outbox: OutboxEntry[];
  /** The list the device is in after this write (settledStatus at `now`); absent without a view. */
  listedAs?: DeviceView['status'];
  /** undefined: the device must not exist yet. */
  expectedRevision: number | undefined;
  now: number;
}

export type CommitResult = { status: 'committed'; revision: number } | { status: 'conflict' };

export interface DeviceStore {
  load(deviceId: string): Promise<StoredDevice | undefined>;
  /** One conditional write on the revision read: 'conflict' when another writer got there first. */
  commit(commit: DeviceCommit): Promise<CommitResult>;
}

/** Every alert the topic carries: a device's, or a fleet incident's. */
export type AnyAlert = Alert | FleetAlert;

/** The history of published alerts. */
export interface AlertHistory<A extends AnyAlert = Alert> {
  /** Records a published alert; recording it again changes nothing. */
  record(alert: A, publishedAt: number): Promise<void>;
  /** Whether the alert was already recorded as published (an outbox entry its publisher left there is done). */
  has(alert: A): Promise<boolean>;
}

export interface AlertPublisher<A extends AnyAlert = Alert> {
  /** `incidentId`: the fleet incident a device alert belongs to, told to subscribers. */
  publish(alert: A, publishedAt: number, incidentId?: string): Promise<void>;
}

export interface CheckScheduler {
  /**
   * Asks for `reconcile(deviceId)` to run again at `recheckAt` (or soon after). Called before the state that needs
   * the check is written, so that no written state ever waits for a check that was never asked for. Returns when
   * the check will arrive: at `recheckAt`, or earlier when the queue cannot wait that long (it then asks again).
   */
  scheduleCheck(deviceId: string, recheckAt: number, now: number): Promise<number>;
}

/**
 * Where the fleet counts are kept. The devices' changes are added up per window of a stream shard; a window is
 * applied once, named by its shard and the sequence number of its last change.
 */
export interface FleetCountStore {
  /** Adds `deltas` unless this shard's changes through `throughSequence` were already applied. */
  apply(window: CountWindow, deltas: Readonly<CountDeltas>): Promise<'applied' | 'already-applied'>;
}

export interface CountWindow {
  shardId: string;
  /** The sequence number of the window's last change (decimal digits, increasing within a shard). */
  throughSequence: string;
  /** When the window ended (epoch ms): how old an applied window is. */
  endedAt: number;
}

/** Finished uptime days, one item each, so that a report reads per day and never per event. */
export interface UptimeDayStore {
  /** Saving a day again with the same figures changes nothing. */
  save(deviceId: string, days: readonly UptimeDay[]): Promise<void>;
}

export interface OutboxFinder {
  /** Devices whose outbox holds an alert whose publisher's lease ended before `before`. */
  findUnsent(before: number, limit: number): Promise<string[]>;
}

export interface EventLog {
  /** One conditional write; a duplicate delivery is recognised and not stored twice. `raw` is the input as received. */
  append(event: DeviceEvent, raw?: string): Promise<'stored' | 'duplicate'>;
  /** The device's stored events whose time (timestamp, else receive time) is `from` or later, oldest first. */
  storedFrom(deviceId: string, from: number): Promise<DeviceEvent[]>;
}

export interface Rejection {
  source: string;
  reason: string;
  receivedAt: number;
  raw: string;
}

export interface RejectionStore {
  keep(rejection: Rejection): Promise<void>;
}
