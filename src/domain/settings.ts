import { SETTINGS } from '../shared/setting-definitions.js';
import type { EpisodeKind, EpisodeRule } from './episodes.js';
import type { FleetRule } from './fleet-incidents.js';

/** The knobs of the presence rules; every duration is in milliseconds. */
export interface PresenceSettings {
  /** W: how long an end must last before it is an outage. */
  settleWindowMs: number;
  /** 'abrupt' alerts on every end except CLIENT_INITIATED_DISCONNECT; 'all' alerts on clean ends too. */
  alertOn: 'abrupt' | 'all';
  /** How far apart (in rule receive time or AWS timestamp) a will and the presence end it accompanies may be. */
  willMatchMs: number;
  /**
   * Connections in one epoch (no gap between their times wider than this) are ordered by versionNumber; epochs by
   * time (connection.ts). versionNumber only restarts after about an hour offline: the window is at most 30 minutes.
   */
  versionWindowMs: number;
  /** clientid-conflict: takeovers in a window; flapping: ends the device came back from within W, in a window. */
  episodes: Record<EpisodeKind, EpisodeRule>;
}

/** The configuration's values the presence rules read, as the environment names them. */
interface PresenceValues {
  SETTLE_WINDOW_SECONDS: number;
  ALERT_ON: 'abrupt' | 'all';
  WILL_MATCH_SECONDS: number;
  VERSION_WINDOW_SECONDS: number;
  CONFLICT_MIN_TAKEOVERS: number;
  CONFLICT_WINDOW_SECONDS: number;
  FLAP_MIN_ENDS: number;
  FLAP_WINDOW_SECONDS: number;
}

interface FleetValues {
  FLEET_OUTAGE_MIN_DEVICES: number;
  FLEET_OUTAGE_WINDOW_SECONDS: number;
  FLEET_RECOVERED_SHARE: number;
}

export function presenceSettingsOf(values: PresenceValues): PresenceSettings {
  return {
    settleWindowMs: values.SETTLE_WINDOW_SECONDS * 1000,
    alertOn: values.ALERT_ON,
    willMatchMs: values.WILL_MATCH_SECONDS * 1000,
    versionWindowMs: values.VERSION_WINDOW_SECONDS * 1000,
    episodes: {
      'clientid-conflict': {
        minCount: values.CONFLICT_MIN_TAKEOVERS,
        windowMs: values.CONFLICT_WINDOW_SECONDS * 1000,
      },
      flapping: { minCount: values.FLAP_MIN_ENDS, windowMs: values.FLAP_WINDOW_SECONDS * 1000 },
    },
  };
}

export function fleetRuleOf(values: FleetValues): FleetRule {
  return {
    minDevices: values.FLEET_OUTAGE_MIN_DEVICES,
    windowMs: values.FLEET_OUTAGE_WINDOW_SECONDS * 1000,
    recoveredShare: values.FLEET_RECOVERED_SHARE,
  };
}

/** The defaults of the configuration (src/shared/setting-definitions.ts), as the rules read them. */
const defaults: PresenceValues & FleetValues = {
  SETTLE_WINDOW_SECONDS: SETTINGS.SETTLE_WINDOW_SECONDS.default,
  ALERT_ON: SETTINGS.ALERT_ON.default,
  WILL_MATCH_SECONDS: SETTINGS.WILL_MATCH_SECONDS.default,
  VERSION_WINDOW_SECONDS: SETTINGS.VERSION_WINDOW_SECONDS.default,
  CONFLICT_MIN_TAKEOVERS: SETTINGS.CONFLICT_MIN_TAKEOVERS.default,
  CONFLICT_WINDOW_SECONDS: SETTINGS.CONFLICT_WINDOW_SECONDS.default,
  FLAP_MIN_ENDS: SETTINGS.FLAP_MIN_ENDS.default,
  FLAP_WINDOW_SECONDS: SETTINGS.FLAP_WINDOW_SECONDS.default,
  FLEET_OUTAGE_MIN_DEVICES: SETTINGS.FLEET_OUTAGE_MIN_DEVICES.default,
  FLEET_OUTAGE_WINDOW_SECONDS: SETTINGS.FLEET_OUTAGE_WINDOW_SECONDS.default,
  FLEET_RECOVERED_SHARE: SETTINGS.FLEET_RECOVERED_SHARE.default,
};

export const DEFAULT_SETTINGS: PresenceSettings = presenceSettingsOf(defaults);

export const DEFAULT_FLEET_RULE: FleetRule = fleetRuleOf(defaults);
