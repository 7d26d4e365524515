import type { DeviceEvent } from './device-events.js';
import type { DeviceFacts } from './device-facts.js';
import type { AlertCursor, AlertDecision, DeviceView } from './evaluate.js';

/** Time is a parameter of the domain: adapters give the wall clock, replays a virtual one. */
export interface Clock {
  now(): number;
}

/** An alert decision with its identity, as kept in the ledger and published. */
export interface Alert extends AlertDecision {
  alertId: string;
  decidedAt: number;
}

export interface StoredDevice {
  facts: DeviceFacts;
  cursor?: AlertCursor;
  recheckAt?: number;
  revision: number;
}

export interface DeviceCommit {
  deviceId: string;
  facts: DeviceFacts;
  cursor?: AlertCursor;
  view?: DeviceView;
  recheckAt?: number;
  /** undefined: the device must not exist yet. */
  expectedRevision: number | undefined;
  /** Written to the ledger atomically with the device record. */
  alerts: Alert[];
  now: number;
}

export type CommitResult = { status: 'committed'; newAlerts: Alert[] } | { status: 'conflict' };

export interface DeviceStore {
  load(deviceId: string): Promise<StoredDevice | undefined>;
  /**
   * Conditional on the revision: 'conflict' when another writer got there first. `newAlerts` are the alerts this
   * commit put in the ledger (an alert already there is not recorded twice and must not be published again).
   */
  commit(commit: DeviceCommit): Promise<CommitResult>;
}

export interface AlertLedger {
  markSent(alert: Alert, publishedAt: number): Promise<void>;
  /** Alerts decided but not confirmed sent whose retry time has come, each claimed for one publisher. */
  claimUnsent(now: number, limit: number): Promise<Alert[]>;
}

export interface AlertPublisher {
  publish(alert: Alert, publishedAt: number): Promise<void>;
}

export interface CheckScheduler {
  /** Asks for `reconcile(deviceId)` to run again at `recheckAt` (or soon after). */
  scheduleCheck(deviceId: string, recheckAt: number, now: number): Promise<void>;
}

export interface DueDeviceFinder {
  /** Devices whose check was due before `before`: the sweep's safety net for lost scheduled checks. */
  findDue(before: number, limit: number): Promise<string[]>;
}

export interface EventLog {
  /** One conditional write; a duplicate delivery is recognised and not stored twice. `raw` is the input as received. */
  append(event: DeviceEvent, raw?: string): Promise<'stored' | 'duplicate'>;
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
