/**
 * The functions' settings that have a default, each defined once: its default, its range, the stage parameter of
 * serverless.yml that sets it, and what it means. config.ts validates the environment against these, the domain's
 * DEFAULT_SETTINGS are their defaults, and a test holds serverless.yml's params and their descriptions to them.
 */

interface Described {
  /** The stage parameter in serverless.yml (`params.default`). */
  param: string;
  /** One line, as serverless.yml's header shows it. */
  description: string;
}

/** A whole number from `min` to `max`; `maxBecause` says why the bound is where it is, in the refusal. */
export interface WholeNumberSetting extends Described {
  kind: 'whole';
  default: number;
  min: number;
  max: number;
  maxBecause?: string;
}

interface FractionSetting extends Described {
  kind: 'fraction';
  default: number;
}

interface ChoiceSetting extends Described {
  kind: 'choice';
  default: string;
  choices: readonly string[];
}

interface TextSetting extends Described {
  kind: 'text';
  default: string;
}

export type SettingDefinition = WholeNumberSetting | FractionSetting | ChoiceSetting | TextSetting;

const whole = (
  param: string,
  defaultValue: number,
  range: [number, number],
  description: string,
  maxBecause?: string,
): WholeNumberSetting => ({
  kind: 'whole',
  param,
  default: defaultValue,
  min: range[0],
  max: range[1],
  description,
  ...(maxBecause ? { maxBecause } : {}),
});

export const SETTINGS = {
  SETTLE_WINDOW_SECONDS: whole(
    'settleWindowSeconds',
    120,
    [1, 840],
    'W: seconds a disconnect must last before it is an outage',
  ),
  ALERT_ON: {
    kind: 'choice',
    param: 'alertOn',
    default: 'abrupt',
    choices: ['abrupt', 'all'],
    description: "'abrupt' (only unexpected disconnects alert) or 'all'",
  },
  WILL_TOPIC_FILTER: {
    kind: 'text',
    param: 'willTopicFilter',
    default: 'devices/+/will',
    description: 'MQTT topic filter of last-will messages (and of the WillRule)',
  },
  BIRTH_TOPIC_FILTER: {
    kind: 'text',
    param: 'birthTopicFilter',
    default: 'devices/+/birth',
    description: 'MQTT topic filter of birth messages (and of the BirthRule)',
  },
  WILL_MATCH_SECONDS: whole(
    'willMatchSeconds',
    120,
    [1, 3600],
    'how far apart a will message and its disconnect may be',
  ),
  VERSION_WINDOW_SECONDS: whole(
    'versionWindowSeconds',
    900,
    [1, 1800],
    'connections with no wider gap in time between them are ordered by versionNumber',
    'AWS restarts versionNumber after about an hour offline, so a wider window could order a restarted ' +
      'connection before the ones it follows',
  ),
  CONFLICT_MIN_TAKEOVERS: whole(
    'conflictMinTakeovers',
    3,
    [1, 1000],
    'a clientid-conflict alert: this many DUPLICATE_CLIENTID ends in the window',
  ),
  CONFLICT_WINDOW_SECONDS: whole(
    'conflictWindowSeconds',
    300,
    [1, 86_400],
    "the clientid-conflict rule's window",
  ),
  FLAP_MIN_ENDS: whole(
    'flapMinEnds',
    6,
    [1, 1000],
    'a flapping alert: this many abrupt ends the device came back from within W',
  ),
  FLAP_WINDOW_SECONDS: whole('flapWindowSeconds', 3600, [1, 86_400], "the flapping rule's window"),
  FLEET_OUTAGE_MIN_DEVICES: whole(
    'fleetOutageMinDevices',
    25,
    [1, 30],
    'a fleet incident opens when this many offline alerts fall in one window',
    'an incident opens in one DynamoDB transaction with its first members',
  ),
  FLEET_OUTAGE_WINDOW_SECONDS: whole(
    'fleetOutageWindowSeconds',
    120,
    [1, 3600],
    "the fleet incident rule's window",
  ),
  FLEET_RECOVERED_SHARE: {
    kind: 'fraction',
    param: 'fleetRecoveredShare',
    default: 0.9,
    description: 'a fleet incident closes when this share of its devices is back',
  },
  EVENT_TTL_DAYS: whole('eventTtlDays', 30, [1, 3650], 'days presence events are kept'),
  ALERT_TTL_DAYS: whole('alertTtlDays', 90, [1, 3650], 'days alerts are kept'),
  UPTIME_TTL_DAYS: whole(
    'uptimeTtlDays',
    400,
    [90, 3650],
    "days each device's daily uptime figures are kept",
  ),
} as const satisfies Record<string, SettingDefinition>;
