import { reportUnreadableRecord } from '../../adapters/stored-records.js';
import { StoredRecordError } from '../../domain/errors.js';

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
