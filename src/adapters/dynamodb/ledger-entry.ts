/**
 * The stored form of one entry of the alert ledger (the history of published alerts), with its schema version. It is
 * read back through its schema when the history is listed: an entry this code does not understand is reported with
 * its key and the reason, and left out of the page.
 *
 * Entries written before the schema version existed (no `schemaVersion`) are read as version 1 when their shape
 * matches: version 1 is exactly the shape they had.
 */
import { connectionName } from '../../domain/connection.js';
import { DISCONNECT_REASONS, LAST_WILL_REASON } from '../../domain/device-events.js';
import { FLEET_KEY, type FleetAlert, isFleetAlert } from '../../domain/fleet-incidents.js';
import type { AnyAlert } from '../../domain/ports.js';
import type { LedgerEntry } from '../../domain/queries.js';
import * as z from '../../shared/zod.js';
import { parseStoredJson, readStored, storedItemKey } from '../stored-records.js';
import { storedAlertSchema } from './device-record.js';

export const LEDGER_ENTRY_SCHEMA_VERSION = 1;

export const utcDay = (epochMs: number) => new Date(epochMs).toISOString().slice(0, 10);

/**
 * One ledger entry per device, alert type and connection; per episode (when its rule was first met); per fleet
 * incident.
 */
export function alertKey(alert: AnyAlert): string {
  if (isFleetAlert(alert)) return `${alert.type}#${alert.incidentId}`;
  return alert.type === 'offline' || alert.type === 'online'
    ? `${alert.type}#${connectionName(alert)}`
    : `${alert.type}#${alert.since}`;
}

const reasonCounts = z.partialRecord(z.enum([...DISCONNECT_REASONS, LAST_WILL_REASON]), z.number());

/** A fleet incident's alert, recorded under the pseudo-device FLEET_KEY. */
const storedFleetAlertSchema: z.ZodMiniType<FleetAlert> = z.object({
  alertId: z.string(),
  type: z.enum(['fleet-outage', 'fleet-recovered']),
  deviceId: z.literal(FLEET_KEY),
  incidentId: z.string(),
  since: z.number(),
  startedAt: z.number(),
  devices: z.number(),
  reasons: reasonCounts,
  sampleDeviceIds: z.array(z.string()),
  durationMs: z.optional(z.number()),
  stillOffline: z.optional(z.number()),
  decidedAt: z.number(),
});

const ledgerItemSchema = z.object({
  schemaVersion: z.optional(z.literal(LEDGER_ENTRY_SCHEMA_VERSION)),
  deviceId: z.string().check(z.minLength(1)),
  alertKey: z.string().check(z.minLength(1)),
  status: z.literal('sent'),
  publishedAt: z.optional(z.number()),
  /** The Alert as JSON. */
  alert: z.string(),
});

/** The item of the alerts table for an alert SNS accepted at `publishedAt`; `expiresAt` is its TTL (epoch seconds). */
export function encodeLedgerEntry(alert: AnyAlert, publishedAt: number, expiresAt: number) {
  return {
    schemaVersion: LEDGER_ENTRY_SCHEMA_VERSION,
    deviceId: alert.deviceId,
    alertKey: alertKey(alert),
    alertId: alert.alertId,
    type: alert.type,
    decidedAt: alert.decidedAt,
    day: utcDay(alert.decidedAt),
    status: 'sent' as const,
    publishedAt,
    alert: JSON.stringify(alert),
    expiresAt,
  };
}

/** Reads one item of the alerts table; throws StoredRecordError with its key and reason. */
export function decodeLedgerEntry(item: unknown): LedgerEntry {
  const key = storedItemKey('alert', item, 'alertKey');
  const stored = readStored(ledgerItemSchema, key, item);
  const json = parseStoredJson(key, stored.alert);
  // A fleet incident's alert, or a device's (as its outbox stores it): each read through its own schema.
  const fleet = typeof json === 'object' && json !== null && isFleetAlert(json as { type: string });
  const alert: AnyAlert = fleet
    ? readStored(storedFleetAlertSchema, key, json, 'alert')
    : readStored(storedAlertSchema, key, json, 'alert');
  return {
    alert,
    status: stored.status,
    ...(stored.publishedAt === undefined ? {} : { publishedAt: stored.publishedAt }),
  };
}
