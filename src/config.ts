import type { FleetRule } from './domain/fleet-incidents.js';
import { DEFAULT_SETTINGS, type PresenceSettings } from './domain/settings.js';
import type { DeviceMessageTopics } from './shared/topic-filter.js';
import * as z from './shared/zod.js';

const positiveInteger = (fallback: number, max: number) =>
  z._default(z.coerce.number().check(z.int(), z.gte(1), z.lte(max)), fallback);
const minLength = (n: number) => z.string().check(z.minLength(n));

/** Every setting all the functions read, validated once at cold start. */
const configSchema = z.object({
  EVENTS_TABLE: minLength(3),
  DEVICES_TABLE: minLength(3),
  ALERTS_TABLE: minLength(3),
  REJECTED_TABLE: minLength(3),
  UPTIME_TABLE: minLength(3),
  ALERT_TOPIC_ARN: z.string().check(z.startsWith('arn:')),
  CHECK_QUEUE_URL: z.url(),
  SETTLE_WINDOW_SECONDS: positiveInteger(120, 840),
  ALERT_ON: z._default(z.enum(['abrupt', 'all']), 'abrupt'),
  WILL_TOPIC_FILTER: z._default(minLength(1), 'devices/+/will'),
  BIRTH_TOPIC_FILTER: z._default(minLength(1), 'devices/+/birth'),
  WILL_MATCH_SECONDS: positiveInteger(120, 3600),
  VERSION_WINDOW_SECONDS: positiveInteger(900, 86_400),
  CONFLICT_MIN_TAKEOVERS: positiveInteger(3, 1000),
  CONFLICT_WINDOW_SECONDS: positiveInteger(300, 86_400),
  FLAP_MIN_ENDS: positiveInteger(6, 1000),
  FLAP_WINDOW_SECONDS: positiveInteger(3600, 86_400),
  /** At most 30: an incident opens in one DynamoDB transaction with its first members. */
  FLEET_OUTAGE_MIN_DEVICES: positiveInteger(25, 30),
  FLEET_OUTAGE_WINDOW_SECONDS: positiveInteger(120, 3600),
  FLEET_RECOVERED_SHARE: z._default(z.coerce.number().check(z.gt(0), z.lte(1)), 0.9),
  EVENT_TTL_DAYS: positiveInteger(30, 3650),
  ALERT_TTL_DAYS: positiveInteger(90, 3650),
  /** At least the 90 days a report may span. */
  UPTIME_TTL_DAYS: z._default(z.coerce.number().check(z.int(), z.gte(90), z.lte(3650)), 400),
  CURSOR_SIGNING_KEY: minLength(16),
  IOT_PRESENCE_FAULTS: z.optional(z.string()),
});

export type Config = z.infer<typeof configSchema>;

/** The redrive function's settings: the common ones, and the dead-letter queues and ingest functions it drains into. */
const redriveConfigSchema = z.extend(configSchema, {
  INGEST_DLQ_URL: z.url(),
  RECONCILE_DLQ_URL: z.url(),
  INGEST_PRESENCE_FUNCTION_NAME: minLength(1),
  INGEST_DEVICE_MESSAGE_FUNCTION_NAME: minLength(1),
});

export type RedriveConfig = z.infer<typeof redriveConfigSchema>;

type Environment = Record<string, string | undefined>;

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

/**
 * A whole-number setting of a local tool (an environment variable or a command-line value), checked with zod as the
 * functions' settings are: undefined when unset or blank, else a whole number from `min` to `max`.
 * Throws ConfigurationError naming the setting.
 */
export function wholeNumberSetting(
  name: string,
  raw: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const result = z.coerce.number().check(z.int(), z.gte(min), z.lte(max)).safeParse(raw);
  if (!result.success) {
    throw new ConfigurationError(`${name} must be a whole number from ${min} to ${max}, not "${raw}"`);
  }
  return result.data;
}

function parseWith<T>(schema: z.ZodMiniType<T>, env: Environment): T {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

export function parseConfig(env: Environment): Config {
  return parseWith(configSchema, env);
}

export function parseRedriveConfig(env: Environment): RedriveConfig {
  return parseWith(redriveConfigSchema, env);
}

let production: Config | undefined;
let productionRedrive: RedriveConfig | undefined;

/** The configuration of a deployed function: read from the environment and validated once, at cold start. */
export function productionConfig(): Config {
  production ??= parseConfig(process.env);
  return production;
}

/** The redrive function's configuration, validated once at cold start (it fails there when a setting is missing). */
export function productionRedriveConfig(): RedriveConfig {
  productionRedrive ??= parseRedriveConfig(process.env);
  return productionRedrive;
}

/** The presence rules' settings from the configuration. */
export function settingsFrom(config: Config): PresenceSettings {
  return {
    ...DEFAULT_SETTINGS,
    settleWindowMs: config.SETTLE_WINDOW_SECONDS * 1000,
    alertOn: config.ALERT_ON,
    willMatchMs: config.WILL_MATCH_SECONDS * 1000,
    versionWindowMs: config.VERSION_WINDOW_SECONDS * 1000,
    episodes: {
      'clientid-conflict': {
        minCount: config.CONFLICT_MIN_TAKEOVERS,
        windowMs: config.CONFLICT_WINDOW_SECONDS * 1000,
      },
      flapping: { minCount: config.FLAP_MIN_ENDS, windowMs: config.FLAP_WINDOW_SECONDS * 1000 },
    },
  };
}

/** The will and birth topic filters from the configuration. */
export function deviceMessageTopicsFrom(config: Config): DeviceMessageTopics {
  return { willTopicFilter: config.WILL_TOPIC_FILTER, birthTopicFilter: config.BIRTH_TOPIC_FILTER };
}

/** The fleet-incident thresholds from the configuration. */
export function fleetRuleFrom(config: Config): FleetRule {
  return {
    minDevices: config.FLEET_OUTAGE_MIN_DEVICES,
    windowMs: config.FLEET_OUTAGE_WINDOW_SECONDS * 1000,
    recoveredShare: config.FLEET_RECOVERED_SHARE,
  };
}
