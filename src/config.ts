import type { FleetRule } from './domain/fleet-incidents.js';
import { fleetRuleOf, type PresenceSettings, presenceSettingsOf } from './domain/settings.js';
import { SETTINGS, type WholeNumberSetting } from './shared/setting-definitions.js';
import type { DeviceMessageTopics } from './shared/topic-filter.js';
import * as z from './shared/zod.js';

/** A whole-number setting as its definition says; a value above its bound is refused with the reason for it. */
function wholeNumber({ default: fallback, min, max, maxBecause }: WholeNumberSetting) {
  const tooBig = maxBecause ? { error: `must be at most ${max}, because ${maxBecause}` } : undefined;
  return z._default(z.coerce.number().check(z.int(), z.gte(min), z.lte(max, tooBig)), fallback);
}
const minLength = (n: number) => z.string().check(z.minLength(n));
const text = ({ default: fallback }: { default: string }) => z._default(minLength(1), fallback);

/** Every setting all the functions read, validated once at cold start. */
const configSchema = z.object({
  EVENTS_TABLE: minLength(3),
  DEVICES_TABLE: minLength(3),
  ALERTS_TABLE: minLength(3),
  REJECTED_TABLE: minLength(3),
  UPTIME_TABLE: minLength(3),
  ALERT_TOPIC_ARN: z.string().check(z.startsWith('arn:')),
  CHECK_QUEUE_URL: z.url(),
  SETTLE_WINDOW_SECONDS: wholeNumber(SETTINGS.SETTLE_WINDOW_SECONDS),
  ALERT_ON: z._default(z.enum(SETTINGS.ALERT_ON.choices), SETTINGS.ALERT_ON.default),
  WILL_TOPIC_FILTER: text(SETTINGS.WILL_TOPIC_FILTER),
  BIRTH_TOPIC_FILTER: text(SETTINGS.BIRTH_TOPIC_FILTER),
  WILL_MATCH_SECONDS: wholeNumber(SETTINGS.WILL_MATCH_SECONDS),
  VERSION_WINDOW_SECONDS: wholeNumber(SETTINGS.VERSION_WINDOW_SECONDS),
  CONFLICT_MIN_TAKEOVERS: wholeNumber(SETTINGS.CONFLICT_MIN_TAKEOVERS),
  CONFLICT_WINDOW_SECONDS: wholeNumber(SETTINGS.CONFLICT_WINDOW_SECONDS),
  FLAP_MIN_ENDS: wholeNumber(SETTINGS.FLAP_MIN_ENDS),
  FLAP_WINDOW_SECONDS: wholeNumber(SETTINGS.FLAP_WINDOW_SECONDS),
  FLEET_OUTAGE_MIN_DEVICES: wholeNumber(SETTINGS.FLEET_OUTAGE_MIN_DEVICES),
  FLEET_OUTAGE_WINDOW_SECONDS: wholeNumber(SETTINGS.FLEET_OUTAGE_WINDOW_SECONDS),
  FLEET_RECOVERED_SHARE: z._default(
    z.coerce.number().check(z.gt(0), z.lte(1)),
    SETTINGS.FLEET_RECOVERED_SHARE.default,
  ),
  EVENT_TTL_DAYS: wholeNumber(SETTINGS.EVENT_TTL_DAYS),
  ALERT_TTL_DAYS: wholeNumber(SETTINGS.ALERT_TTL_DAYS),
  UPTIME_TTL_DAYS: wholeNumber(SETTINGS.UPTIME_TTL_DAYS),
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
  return presenceSettingsOf(config);
}

/** The will and birth topic filters from the configuration. */
export function deviceMessageTopicsFrom(config: Config): DeviceMessageTopics {
  return { willTopicFilter: config.WILL_TOPIC_FILTER, birthTopicFilter: config.BIRTH_TOPIC_FILTER };
}

/** The fleet-incident thresholds from the configuration. */
export function fleetRuleFrom(config: Config): FleetRule {
  return fleetRuleOf(config);
}
