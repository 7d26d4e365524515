/**
 * The stored form of one event of the event log, with its schema version. The same item comes back two ways: read
 * from the table (a device's events, newest first) and as the NEW_IMAGE of the events stream that feeds the
 * reconciler. Both read it through this schema: an item this code does not understand is refused with its key and
 * the reason instead of being trusted.
 *
 * Items written before the schema version existed (no `schemaVersion`) are read as version 1 when their shape
 * matches: version 1 is exactly the shape they had, so no migration is needed. A later version refuses them only if
 * it changes the shape.
 */
import { type DeviceEvent, DISCONNECT_REASONS } from '../../domain/device-events.js';
import { StoredRecordError } from '../../domain/errors.js';
import * as z from '../../shared/zod.js';
import { parseStoredJson, readStored, storedItemKey } from '../stored-records.js';

export const EVENT_ITEM_SCHEMA_VERSION = 1;

const epochMs = z.number();
const base = { deviceId: z.string().check(z.minLength(1)), eventId: z.string(), receivedAt: epochMs };
const presence = {
  ...base,
  sessionIdentifier: z.string(),
  versionNumber: z.number(),
  timestamp: epochMs,
  /** Who held the connection (connected and disconnected events), and from where (connected events). */
  principalIdentifier: z.optional(z.string()),
  ipAddress: z.optional(z.string()),
};

/** A device event as the ingest functions built it (src/handlers/shared/iot-schemas.ts). */
const storedEventSchema: z.ZodMiniType<DeviceEvent> = z.discriminatedUnion('kind', [
  z.object({ ...presence, kind: z.literal('connected') }),
  z.object({
    ...presence,
    kind: z.literal('disconnected'),
    disconnectReason: z.enum(DISCONNECT_REASONS),
    clientInitiatedDisconnect: z.boolean(),
  }),
  z.object({ ...base, kind: z.literal('connect_failed'), timestamp: epochMs }),
  z.object({ ...base, kind: z.literal('will'), payload: z.unknown() }),
  z.object({ ...base, kind: z.literal('birth'), payload: z.unknown() }),
]);

const eventItemSchema = z.object({
  schemaVersion: z.optional(z.literal(EVENT_ITEM_SCHEMA_VERSION)),
  deviceId: z.string().check(z.minLength(1)),
  eventKey: z.string().check(z.minLength(1)),
  /** The DeviceEvent as JSON. */
  event: z.string(),
  /** The input as the ingest function received it. */
  raw: z.optional(z.string()),
});

const keyTime = (time: number) => String(Math.max(0, Math.trunc(time))).padStart(15, '0');

/** Sort key: event time first so the log reads newest first, then the event's identity. */
function eventKey(event: DeviceEvent): string {
  return `${keyTime('timestamp' in event ? event.timestamp : event.receivedAt)}#${event.eventId}`;
}

/** The lowest sort key of the events at `time` or later. */
export const eventKeyFrom = (time: number): string => keyTime(time);

export interface EventItem {
  eventKey: string;
  event: DeviceEvent;
  raw?: string;
}

/** The item of the events table for one event; `expiresAt` is its TTL (epoch seconds). */
export function encodeEventItem(event: DeviceEvent, raw: string | undefined, expiresAt: number) {
  return {
    schemaVersion: EVENT_ITEM_SCHEMA_VERSION,
    deviceId: event.deviceId,
    eventKey: eventKey(event),
    kind: event.kind,
    receivedAt: event.receivedAt,
    event: JSON.stringify(event),
    raw,
    expiresAt,
  };
}

/** Reads one item of the events table (or one stream image of it); throws StoredRecordError with its key. */
export function decodeEventItem(item: unknown): EventItem {
  const key = storedItemKey('event', item, 'eventKey');
  const stored = readStored(eventItemSchema, key, item);
  const event = readStored(storedEventSchema, key, parseStoredJson(key, stored.event), 'event');
  if (event.deviceId !== stored.deviceId)
    throw new StoredRecordError(key, `event.deviceId: the event names device ${event.deviceId}`);
  return { eventKey: stored.eventKey, event, ...(stored.raw === undefined ? {} : { raw: stored.raw }) };
}
