/**
 * `npm start [-- --fresh]`: the whole stack on this machine, on loopback, in real time. Stops cleanly on
 * SIGINT/SIGTERM. DynamoDB Local keeps its data in the git-ignored `.local-data/` of the project, across runs;
 * `--fresh` deletes it first and starts empty.
 *
 * Environment: MQTT_PORT (1883), HTTP_PORT (3000), SETTLE_WINDOW_SECONDS (120), VERSION_RESET_SECONDS (3600),
 * FLEET_COUNT_WINDOW_SECONDS (30, the fleet counts' tumbling window), LOCAL_DATA_DIR (.local-data/dynamodb),
 * POWERTOOLS_LOG_LEVEL (WARN by default here, so that the functions' logs do not drown the console).
 */
import { rmSync } from 'node:fs';
import { relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { quietForLocalRun } from '../adapters/observability.js';
import { wholeNumberSetting } from '../config.js';
import { API_ROUTE_KEYS } from './http-server.js';
import { dropSdkNodeVersionNotice } from './node-version-notice.js';
import type { ReceivedAlert } from './runtime.js';
import { assertJavaAvailable, JavaMissingError } from './services/dynamodb-local.js';

const startedAt = performance.now();
// The functions log at WARN unless POWERTOOLS_LOG_LEVEL says otherwise, and print no EMF metrics.
quietForLocalRun({ logLevel: 'WARN' });
// Lambda runs Node 22; locally the SDK's notice about Node 20 support is noise.
dropSdkNodeVersionNotice();

function wholeNumberFromEnv(name: string, min: number, max?: number): number | undefined {
  try {
    return wholeNumberSetting(name, process.env[name], min, max);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

try {
  assertJavaAvailable();
} catch (error) {
  if (error instanceof JavaMissingError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

let fresh: boolean;
try {
  fresh =
    parseArgs({ options: { fresh: { type: 'boolean', default: false } }, strict: true }).values.fresh ===
    true;
} catch (error) {
  console.error(
    `${(error as Error).message}\nusage: npm start [-- --fresh]   (--fresh: delete the kept data and start empty)`,
  );
  process.exit(2);
}
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
/** Git-ignored (.gitignore): DynamoDB Local's database, kept between runs of `npm start` (LOCAL_DATA_DIR: elsewhere). */
const dataDir =
  process.env.LOCAL_DATA_DIR || fileURLToPath(new URL('../../.local-data/dynamodb', import.meta.url));
if (fresh) rmSync(dataDir, { recursive: true, force: true });

const mqttPort = wholeNumberFromEnv('MQTT_PORT', 0, 65_535) ?? 1883;
const httpPort = wholeNumberFromEnv('HTTP_PORT', 0, 65_535) ?? 3000;
const settleWindowSeconds = wholeNumberFromEnv('SETTLE_WINDOW_SECONDS', 1);
const versionResetSeconds = wholeNumberFromEnv('VERSION_RESET_SECONDS', 1);
const fleetCountWindowSeconds = wholeNumberFromEnv('FLEET_COUNT_WINDOW_SECONDS', 1, 900);

const { startLocalStack } = await import('./local-stack.js');

let stack: Awaited<ReturnType<typeof startLocalStack>>;
/** One console line per alert, whatever its type. */
function describeAlert(alert: ReceivedAlert): string {
  const incident = typeof alert.incidentId === 'string' ? ` [incident ${alert.incidentId}]` : '';
  switch (alert.type) {
    case 'offline':
      return `offline ${alert.deviceId} ${alert.disconnectReason ?? 'UNKNOWN'} since ${alert.since}${incident}`;
    case 'online':
      return `online ${alert.deviceId} after ${alert.outageSeconds} s offline${incident}`;
    case 'clientid-conflict':
      return `clientid-conflict ${alert.deviceId}: ${alert.takeovers} takeovers in ${alert.windowSeconds} s by ${JSON.stringify(alert.principalIdentifiers)} from ${JSON.stringify(alert.ipAddresses)}`;
    case 'flapping':
      return `flapping ${alert.deviceId}: ${alert.ends} drops in ${alert.windowSeconds} s, median ${alert.medianGapSeconds} s away`;
    case 'fleet-outage':
      return `fleet-outage ${alert.incidentId}: ${alert.devices} devices since ${alert.startedAt} ${JSON.stringify(alert.reasons)} (${alert.path})`;
    case 'fleet-recovered':
      return `fleet-recovered ${alert.incidentId} after ${alert.durationSeconds} s, ${alert.stillOffline} of ${alert.devicesAffected} still offline`;
    default:
      return `${alert.type} ${JSON.stringify(alert)}`;
  }
}

try {
  stack = await startLocalStack({
    mqttPort,
    httpPort,
    dataDir,
    ...(settleWindowSeconds ? { settleWindowSeconds } : {}),
    ...(versionResetSeconds ? { versionResetMs: versionResetSeconds * 1000 } : {}),
    ...(fleetCountWindowSeconds ? { fleetCountWindowMs: fleetCountWindowSeconds * 1000 } : {}),
    log: (line) => console.error(line),
    onAlert: (alert) => console.log(`[alert] ${describeAlert(alert)}`),
  });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    console.error(
      `a port is already in use (${(error as Error).message}); set MQTT_PORT / HTTP_PORT to free ones`,
    );
  } else {
    console.error('the local stack did not start:', error);
  }
  process.exit(1);
}

// From the launch of this Node process (tsx loading and compiling included) to everything listening.
const startupSeconds = process.uptime();
const stackSeconds = (performance.now() - startedAt) / 1000;
const env = stack.localAws.env;
const w = stack.settleWindowSeconds;
const httpHostPort = stack.httpUrl.replace(/^http:\/\//, '');
console.log(
  [
    '',
    `iot-presence local stack is up: started in ${startupSeconds.toFixed(1)} s (${stackSeconds.toFixed(1)} s for the services)`,
    '',
    `  MQTT broker (AWS IoT Core stand-in)  ${stack.mqttUrl}   MQTT 3.1.1 and MQTT 5, no TLS, no auth; presence events on $aws/events/presence/#`,
    `  Dashboard                            ${stack.httpUrl}/  (the live fleet page)`,
    `  HTTP API (no IAM auth locally)       ${stack.httpUrl}`,
    ...API_ROUTE_KEYS.map((route) => `      ${route}`),
    `  DynamoDB Local                       ${stack.localAws.dynamoEndpoint}   (pid ${stack.localAws.pids.join(', ')}; it has no bind option)`,
    `  data     ${relative(projectRoot, dataDir)}/ (${stack.localAws.keptData ? 'kept from the last run' : 'new'}; kept across runs, \`npm start -- --fresh\` starts empty)`,
    `  SNS/SQS emulator                     ${stack.localAws.snsSqsEndpoint}`,
    `  tables   ${env.EVENTS_TABLE}, ${env.DEVICES_TABLE}, ${env.ALERTS_TABLE}, ${env.REJECTED_TABLE}`,
    `  topic    ${env.ALERT_TOPIC_ARN} -> queue ${stack.localAws.alertQueueUrl} (alerts print below)`,
    `  settle window W = ${w} s (SETTLE_WINDOW_SECONDS); will topic ${stack.runtime.ports.config.WILL_TOPIC_FILTER}; alert on ${stack.runtime.ports.config.ALERT_ON}`,
    '',
    'The broker, the HTTP API and the SNS/SQS emulator listen on 127.0.0.1 only; nothing here has authentication.',
    '',
    'Try it:',
    `  npm run simulate -- --quick${mqttPort === 1883 && httpPort === 3000 ? '' : ` --mqtt ${stack.mqttUrl} --api ${stack.httpUrl}`}`,
    `  curl '${httpHostPort}/devices?status=disconnected'`,
    `  curl '${httpHostPort}/alerts'`,
    `  curl '${httpHostPort}/fleet'`,
    '',
    'Ctrl-C stops everything. MQTT connections open at a stop (or a crash) are ended at the next start:',
    'their wills, then a disconnected event with SERVER_INITIATED_DISCONNECT.',
    '',
  ].join('\n'),
);

let stopping = false;
const shutdown = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the local stack...`);
  const started = performance.now();
  // If something hangs, do not keep the terminal forever.
  const force = setTimeout(() => {
    console.error('the local stack did not stop within 20 s; exiting anyway');
    process.exit(1);
  }, 20_000);
  force.unref();
  stack
    .stop()
    .then(() => {
      console.log(`stopped in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error('stopping failed:', error);
      process.exit(1);
    });
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
