import { z } from 'zod';

const seconds = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

/** Every setting the functions read, validated once at cold start. */
export const configSchema = z.object({
  EVENTS_TABLE: z.string().min(3),
  DEVICES_TABLE: z.string().min(3),
  ALERTS_TABLE: z.string().min(3),
  REJECTED_TABLE: z.string().min(3),
  ALERT_TOPIC_ARN: z.string().startsWith('arn:'),
  CHECK_QUEUE_URL: z.url(),
  /** Only the redrive function reads the dead-letter queue. */
  INGEST_DLQ_URL: z.url().optional(),
  SETTLE_WINDOW_SECONDS: seconds(120, 840),
  ALERT_ON: z.enum(['abrupt', 'all']).default('abrupt'),
  WILL_TOPIC_FILTER: z.string().min(1).default('devices/+/will'),
  BIRTH_TOPIC_FILTER: z.string().min(1).default('devices/+/birth'),
  WILL_MATCH_SECONDS: seconds(120, 3600),
  VERSION_WINDOW_SECONDS: seconds(900, 86_400),
  EVENT_TTL_DAYS: seconds(30, 3650),
  ALERT_TTL_DAYS: seconds(90, 3650),
  CURSOR_SIGNING_KEY: z.string().min(16),
  IOT_PRESENCE_FAULTS: z.string().optional(),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigurationError extends Error {
  override name = 'ConfigurationError';
}

export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

let production: Config | undefined;

/** The configuration of a deployed function: read from the environment and validated once, at cold start. */
export function productionConfig(): Config {
  production ??= parseConfig(process.env);
  return production;
}
