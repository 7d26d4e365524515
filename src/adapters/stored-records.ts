/**
 * Reading back what the code stored: every item it reads back carries a `schemaVersion` and is validated with its
 * schema at the adapter that reads it. A record that fails is a StoredRecordError with its key and the reason, and
 * is reported here, one at a time, so that it never fails the other records of its batch or page.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { StoredRecordError } from '../domain/errors.js';
import type * as z from '../shared/zod.js';
import { logger, metrics } from './observability.js';

/** The record's text as JSON, or a StoredRecordError naming `key`. */
/** The key an unreadable item is reported by: `label hash/sort`, each part as far as it can be read. */
export function storedItemKey(label: string, item: unknown, sortKeyName: string): string {
  const fields = (item ?? {}) as Record<string, unknown>;
  return `${label} ${keyPart(fields.deviceId)}/${keyPart(fields[sortKeyName])}`;
}

const keyPart = (value: unknown) => (typeof value === 'string' ? value : '?');

export function parseStoredJson(key: string, text: unknown): unknown {
  try {
    return JSON.parse(String(text));
  } catch {
    throw new StoredRecordError(key, 'the record is not JSON');
  }
}

/**
 * The record validated by its schema, or a StoredRecordError naming `key` and the first thing that is wrong (its path
 * within the record, under `within` for a part of it).
 */
export function readStored<T>(schema: z.ZodMiniType<T>, key: string, value: unknown, within?: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [...(within ? [within] : []), ...(issue?.path ?? [])];
  const where = path.length > 0 ? path.join('.') : 'the record';
  throw new StoredRecordError(key, `${where}: ${issue?.message ?? 'does not match its schema'}`);
}

/** Logs an unreadable record with its key and reason, and counts it (the UnreadableRecords metric). */
export function reportUnreadableRecord(
  error: StoredRecordError,
  context: Record<string, unknown> = {},
): void {
  logger.error('stored record cannot be read; left out', {
    ...context,
    record: error.key,
    reason: error.reason,
  });
  metrics.addMetric('UnreadableRecords', MetricUnit.Count, 1);
}

/**
 * Decodes each item, leaving out the ones `decode` skips (undefined) and, reported with `context`, the ones that
 * cannot be read: one damaged item never fails the others of its page or batch.
 */
export function readEach<I, T>(
  items: readonly I[],
  decode: (item: I) => T | undefined,
  context: (item: I) => Record<string, unknown> = () => ({}),
): T[] {
  const read: T[] = [];
  for (const item of items) {
    try {
      const value = decode(item);
      if (value !== undefined) read.push(value);
    } catch (error) {
      if (!(error instanceof StoredRecordError)) throw error;
      reportUnreadableRecord(error, context(item));
    }
  }
  return read;
}
