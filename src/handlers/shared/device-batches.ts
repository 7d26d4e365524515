import { reportUnreadableRecord } from '../../adapters/stored-records.js';
import { StoredRecordError } from '../../domain/errors.js';

/** Runs `work` for each key with at most `concurrency` in flight; collects which keys failed. */
export async function forEachWithLimit<T>(
  keys: readonly T[],
  concurrency: number,
  work: (key: T) => Promise<void>,
): Promise<Array<{ key: T; error: unknown }>> {
  const failures: Array<{ key: T; error: unknown }> = [];
  let next = 0;
  const runners = Array.from({ length: Math.min(concurrency, keys.length) }, async () => {
    while (next < keys.length) {
      const key = keys[next] as T;
      next += 1;
      try {
        await work(key);
      } catch (error) {
        failures.push({ key, error });
      }
    }
  });
  await Promise.all(runners);
  return failures;
}

/**
 * The failures worth retrying. A device whose stored record cannot be read will not read better on a retry: it is
 * reported with its key and reason, counted, and left out so that it never holds back the rest of its batch (its
 * events stay in the event log, and the record is never overwritten).
 */
export function retryableFailures(
  failures: ReadonlyArray<{ key: string; error: unknown }>,
): Array<{ key: string; error: unknown }> {
  return failures.filter((failure) => {
    if (!(failure.error instanceof StoredRecordError)) return true;
    reportUnreadableRecord(failure.error, { deviceId: failure.key });
    return false;
  });
}
