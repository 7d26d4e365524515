import type { EpisodeKind, EpisodeRule } from './episodes.js';
import type { FleetRule } from './fleet-incidents.js';

export const DEFAULT_FLEET_RULE: FleetRule = { minDevices: 25, windowMs: 120_000, recoveredShare: 0.9 };

/** The knobs of the presence rules; every duration is in milliseconds. */
export interface PresenceSettings {
  /** W: how long an end must last before it is an outage. */
  settleWindowMs: number;
  /** 'abrupt' alerts on every end except CLIENT_INITIATED_DISCONNECT; 'all' alerts on clean ends too. */
  alertOn: 'abrupt' | 'all';
  /** How far apart (in rule receive time or AWS timestamp) a will and the presence end it accompanies may be. */
  willMatchMs: number;
  /**
   * Connections whose times are closer than this are ordered by versionNumber; farther apart, by time.
   * versionNumber only resets after about an hour offline, so anything well below that is safe.
   */
  versionWindowMs: number;
  /** clientid-conflict: takeovers in a window; flapping: ends the device came back from within W, in a window. */
  episodes: Record<EpisodeKind, EpisodeRule>;
}

export const DEFAULT_SETTINGS: PresenceSettings = {
  settleWindowMs: 120_000,
  alertOn: 'abrupt',
  willMatchMs: 120_000,
  versionWindowMs: 900_000,
  episodes: {
    'clientid-conflict': { minCount: 3, windowMs: 300_000 },
    flapping: { minCount: 6, windowMs: 3_600_000 },
  },
};
