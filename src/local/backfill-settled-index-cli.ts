/**
 * `npm run backfill-settled-index -- (--stage S | --table T [--endpoint URL])`: step 2 of the migration to the
 * settled-status index (src/adapters/dynamodb/settled-index-migration.ts, docs/cost.md). Safe to run again.
 */
import { parseArgs } from 'node:util';
import { backfillSettledStatus } from '../adapters/dynamodb/settled-index-migration.js';
import { createDynamoDbClient } from '../adapters/dynamodb-client.js';
import { DEFAULT_SETTINGS } from '../domain/settings.js';

const { values } = parseArgs({
  options: { stage: { type: 'string' }, table: { type: 'string' }, endpoint: { type: 'string' } },
});
const tableName = values.table ?? (values.stage ? `iot-presence-${values.stage}-devices` : undefined);
if (!tableName) {
  process.stderr.write('usage: npm run backfill-settled-index -- (--stage S | --table T [--endpoint URL])\n');
  process.exit(2);
}
const dynamo = createDynamoDbClient(values.endpoint ? { endpoints: { dynamodb: values.endpoint } } : {});
try {
  const outcome = await backfillSettledStatus(dynamo, tableName, DEFAULT_SETTINGS, Date.now());
  process.stdout.write(
    `${tableName}: ${outcome.scanned} devices read, ${outcome.backfilled} given their settled status, ${outcome.skipped} left as they were\n`,
  );
} finally {
  dynamo.destroy();
}
