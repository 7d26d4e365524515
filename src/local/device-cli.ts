/**
 * `npm run device -- <deviceId> [--stage S] [--table T] [--endpoint URL]`: prints a device's item decoded, as JSON
 * (status, since, settled, reason, the alert cursor, the whole record). `--stage` reads the deployed stage's table
 * (iot-presence-<stage>-devices, with the shell's AWS credentials and region); `--table` and `--endpoint` name any
 * other, a DynamoDB Local for instance. The view is evaluated now with the default settings.
 */
import { parseArgs } from 'node:util';
import { inspectDevice } from '../adapters/dynamodb/device-inspection.js';
import { createDynamoDbClient } from '../adapters/dynamodb-client.js';
import { DEFAULT_SETTINGS } from '../domain/settings.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { stage: { type: 'string' }, table: { type: 'string' }, endpoint: { type: 'string' } },
});
const deviceId = positionals[0];
const tableName = values.table ?? (values.stage ? `iot-presence-${values.stage}-devices` : undefined);
if (!deviceId || !tableName) {
  process.stderr.write('usage: npm run device -- <deviceId> (--stage S | --table T [--endpoint URL])\n');
  process.exit(2);
}
const dynamo = createDynamoDbClient(values.endpoint ? { endpoints: { dynamodb: values.endpoint } } : {});
try {
  const device = await inspectDevice(dynamo, tableName, deviceId, DEFAULT_SETTINGS, Date.now());
  if (!device) {
    process.stderr.write(`no device ${deviceId} in ${tableName}\n`);
    process.exitCode = 1;
  } else process.stdout.write(`${JSON.stringify(device, null, 2)}\n`);
} finally {
  dynamo.destroy();
}
