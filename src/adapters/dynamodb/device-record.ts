/**
 * The stored form of a device's facts and alert cursor, with its schema version. Read back through a schema, so a
 * record this code does not understand is reported with its key and reason instead of being trusted.
 */
import { DISCONNECT_REASONS, LAST_WILL_REASON } from '../../domain/device-events.js';
import type { DeviceFacts } from '../../domain/device-facts.js';
import { StoredRecordError } from '../../domain/errors.js';
import type { AlertCursor } from '../../domain/evaluate.js';
import type { OutboxEntry } from '../../domain/ports.js';
import * as z from '../../shared/zod.js';

export const DEVICE_RECORD_SCHEMA_VERSION = 2;

const epochMs = z.number();

const connectionSchema = z.object({
  sessionIdentifier: z.string(),
  versionNumber: z.optional(z.number()),
  source: z.enum(['presence', 'birth']),
  startedAt: z.optional(epochMs),
  startSeenAt: z.optional(epochMs),
  endedAt: z.optional(epochMs),
  endSeenAt: z.optional(epochMs),
  endReason: z.optional(z.enum(DISCONNECT_REASONS)),
});

const factsSchema = z.object({
  deviceId: z.string(),
  presence: z.boolean(),
  connections: z.array(connectionSchema),
  wills: z.array(z.object({ eventId: z.string(), receivedAt: epochMs, payload: z.unknown() })),
  lastEventAt: z.optional(epochMs),
  lastConnectedAt: z.optional(epochMs),
  lastDisconnectedAt: z.optional(epochMs),
  lastWillAt: z.optional(epochMs),
});

const cursorSchema = z.object({
  at: z.object({ sessionIdentifier: z.string(), versionNumber: z.optional(z.number()) }),
  atTime: epochMs,
  through: z.enum(['start', 'end']),
  outageSince: z.optional(epochMs),
  ahead: z.optional(z.array(z.string())),
});

const alertSchema = z.object({
  alertId: z.string(),
  type: z.enum(['offline', 'online']),
  deviceId: z.string(),
  sessionIdentifier: z.string(),
  versionNumber: z.optional(z.number()),
  disconnectReason: z.optional(z.enum([...DISCONNECT_REASONS, LAST_WILL_REASON])),
  abrupt: z.optional(z.boolean()),
  lastWill: z.optional(z.unknown()),
  lastWillAt: z.optional(epochMs),
  since: epochMs,
  earliestAt: epochMs,
  outageMs: z.optional(z.number()),
  decidedAt: epochMs,
});

const recordSchema = z.object({
  schemaVersion: z.literal(DEVICE_RECORD_SCHEMA_VERSION),
  facts: factsSchema,
  cursor: z.optional(cursorSchema),
  outbox: z.array(z.object({ alert: alertSchema, retryAt: epochMs })),
});

export interface DeviceRecord {
  facts: DeviceFacts;
  cursor?: AlertCursor;
  outbox: OutboxEntry[];
}

/** The one attribute that holds the record, as JSON. */
export function encodeDeviceRecord(record: DeviceRecord): string {
  return JSON.stringify({ schemaVersion: DEVICE_RECORD_SCHEMA_VERSION, ...record });
}

export function decodeDeviceRecord(deviceId: string, text: unknown): DeviceRecord {
  let json: unknown;
  try {
    json = JSON.parse(String(text));
  } catch {
    throw new StoredRecordError(`device ${deviceId}`, 'the record is not JSON');
  }
  const result = recordSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'the record';
    throw new StoredRecordError(
      `device ${deviceId}`,
      `${where}: ${issue?.message ?? 'does not match its schema'}`,
    );
  }
  const { facts, cursor, outbox } = result.data;
  return cursor === undefined ? { facts, outbox } : { facts, cursor, outbox };
}
