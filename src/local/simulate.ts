/**
 * `npm run simulate -- --devices N [--duration S] [--seed K] [--mqtt URL] [--api URL]`: a fleet of real MQTT
 * devices against a running `npm start`, then a check of what the API reports. Exits 1 on any mismatch.
 *
 * W is the stack's, read from its GET /health. VERSION_RESET_SECONDS must match the stack's (not checked).
 */
import { parseArgs } from 'node:util';
import { wholeNumberSetting } from '../config.js';
import { runFleetSimulation } from './fleet-simulator.js';

const usage = `usage: npm run simulate -- --devices N [--duration S] [--seed K] [--mqtt URL] [--api URL]
                         [--keepalive S] [--prefix P] [--no-storm] [--quick] [--verbose] [--json]
  --devices     fleet size (default 50; 14 with --quick)
  --duration    seconds in which the scenarios play out (default 300; 5 with --quick)
  --quick       every scenario kind, short outages: done in about W + 40 s (2W + 46 s with a fleet outage)
  --seed        PRNG seed: the same seed plays the same scenarios (default 1)
  --mqtt        broker url (default mqtt://127.0.0.1:1883)
  --api         HTTP API url (default http://127.0.0.1:3000)
  --keepalive   MQTT keepalive of the devices in seconds (default 10)
  --prefix      client id prefix (default thing-<run tag>-, unique per run)
  --no-storm    skip the reconnect storm
  --json        print the result document as JSON on the last line
W is the running stack's (GET /health).
env: VERSION_RESET_SECONDS (default 3600; the stack's)`;

function fail(message: string): never {
  console.error(`${message}\n\n${usage}`);
  process.exit(2);
}

let values: ReturnType<typeof parse>['values'];
function parse() {
  return parseArgs({
    options: {
      devices: { type: 'string' },
      duration: { type: 'string' },
      quick: { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      mqtt: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
      api: { type: 'string', default: 'http://127.0.0.1:3000' },
      keepalive: { type: 'string', default: '10' },
      prefix: { type: 'string' },
      'no-storm': { type: 'boolean', default: false },
      verbose: { type: 'boolean' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
}
try {
  values = parse().values;
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}

function whole(name: string, raw: string | undefined, min: number, max?: number): number {
  try {
    return wholeNumberSetting(name, raw, min, max) ?? fail(`${name} is empty`);
  } catch (error) {
    return fail((error as Error).message);
  }
}

const quick = values.quick === true;
const devices = whole('--devices', values.devices ?? (quick ? '14' : '50'), 1, 100_000);
const durationSeconds = whole('--duration', values.duration ?? (quick ? '5' : '300'), 0);
const seed = whole('--seed', values.seed, 0, 2 ** 32 - 1);
const keepaliveSeconds = whole('--keepalive', values.keepalive, 1, 65_535);
const versionResetSeconds = whole('VERSION_RESET_SECONDS', process.env.VERSION_RESET_SECONDS || '3600', 1);

try {
  const result = await runFleetSimulation({
    mqttUrl: values.mqtt as string,
    apiUrl: values.api as string,
    devices,
    durationSeconds,
    seed,
    keepaliveSeconds,
    versionResetSeconds,
    storm: !values['no-storm'],
    quick,
    ...(values.prefix ? { prefix: values.prefix } : {}),
    ...(values.verbose !== undefined ? { verbose: values.verbose } : {}),
  });
  if (values.json) {
    const { reports, ...summary } = result;
    console.log(JSON.stringify({ ...summary, wrong: reports.filter((report) => !report.correct) }));
  }
  process.exit(result.ok ? 0 : 1);
} catch (error) {
  console.error(`simulation failed: ${(error as Error).message}`);
  process.exit(1);
}
