/** The knobs of the presence rules; every duration is in milliseconds. */
export interface PresenceSettings {
  /** W: how long an end must last before it is an outage (and how long a will waits for its presence event). */
  settleWindowMs: number;
  /** 'abrupt' alerts on every end except CLIENT_INITIATED_DISCONNECT; 'all' alerts on clean ends too. */
  alertOn: 'abrupt' | 'all';
  /** How far apart (in rule receive time or AWS timestamp) a will and the presence disconnect it accompanies may be. */
  willMatchMs: number;
  /**
   * Sessions whose start times are closer than this are ordered by versionNumber; farther apart, by time.
   * versionNumber only resets after about an hour offline, so anything well below that is safe.
   */
  versionWindowMs: number;
  /** A will this soon after a new session started, while an older one is open, belongs to the older one. */
  takeoverWindowMs: number;
  /** How many sessions and wills a device record keeps (older ones stay in the event log). */
  maxSessions: number;
  maxWills: number;
}

export const DEFAULT_SETTINGS: PresenceSettings = {
  settleWindowMs: 120_000,
  alertOn: 'abrupt',
  willMatchMs: 120_000,
  versionWindowMs: 900_000,
  takeoverWindowMs: 10_000,
  maxSessions: 12,
  maxWills: 12,
};
