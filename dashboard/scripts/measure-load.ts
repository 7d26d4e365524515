/**
 * `npm run dashboard:measure [-- --devices 1000 --runs 5]`: how fast the page loads on the local stack with a
 * fleet of real MQTT clients (15% of them cut, so that the counts have reasons), in Debian's Chromium, and how
 * large the built assets are. Prints one JSON document.
 *
 * Measured per run, in a fresh profile (nothing cached), from the start of navigation:
 *   devicesRendered  the first page of the device list is in the DOM (mark iot-presence:devices-rendered)
 *   fleetCounted     the counts are shown, after listing the whole fleet (mark iot-presence:fleet-counted)
 *   load             the load event
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { connect, type MqttClient } from 'mqtt';
import { startLocalStack } from '../../src/local/local-stack.js';
import { buildDashboard } from '../server/build.js';
import { launchHeadlessChromium } from '../server/headless-chromium.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

const { values } = parseArgs({
  options: { devices: { type: 'string', default: '1000' }, runs: { type: 'string', default: '5' } },
});
const DEVICES = Number(values.devices);
const RUNS = Number(values.runs);
const CUT = Math.round(DEVICES * 0.15);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function assetSizes(dir: string) {
  const files: Array<{ file: string; bytes: number; gzip: number }> = [];
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, entry);
    if (!statSync(path).isFile()) continue;
    const body = readFileSync(path);
    files.push({ file: entry, bytes: body.length, gzip: gzipSync(body).length });
  }
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  const gzip = files.reduce((sum, file) => sum + file.gzip, 0);
  return { files, total, gzip };
}

async function countListed(apiUrl: string, status: string): Promise<number> {
  let cursor: string | null = null;
  let count = 0;
  do {
    const query = new URLSearchParams({ status, limit: '100', ...(cursor ? { cursor } : {}) });
    const page = (await (await fetch(`${apiUrl}/devices?${query}`)).json()) as {
      items: unknown[];
      cursor: string | null;
    };
    count += page.items.length;
    cursor = page.cursor;
  } while (cursor);
  return count;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const assetsDir = mkdtempSync(join(tmpdir(), 'dashboard-measure-assets-'));
await buildDashboard(assetsDir);
const stack = await startLocalStack({
  mqttPort: 0,
  httpPort: 0,
  settleWindowSeconds: 10,
  dashboardDir: assetsDir,
  log: () => undefined,
});
const clients: MqttClient[] = [];
try {
  const fleetStarted = Date.now();
  for (let next = 0; next < DEVICES; ) {
    const batch = [];
    for (let i = 0; i < 50 && next < DEVICES; i += 1, next += 1) {
      const id = `load-${String(next).padStart(4, '0')}`;
      batch.push(
        new Promise<MqttClient>((resolve, reject) => {
          const client = connect(stack.mqttUrl, {
            clientId: id,
            protocolVersion: 4,
            reconnectPeriod: 0,
            keepalive: 60,
            will: {
              topic: `devices/${id}/will`,
              payload: Buffer.from('{"last_will":"yes"}'),
              qos: 0,
              retain: false,
            },
          });
          client.once('connect', () => resolve(client));
          client.once('error', reject);
        }),
      );
    }
    clients.push(...(await Promise.all(batch)));
  }
  for (const client of clients.slice(0, CUT)) {
    client.stream.destroy();
    client.end(true);
  }
  for (;;) {
    await stack.idle();
    const [connected, disconnected] = await Promise.all([
      countListed(stack.httpUrl, 'connected'),
      countListed(stack.httpUrl, 'disconnected'),
    ]);
    if (connected === DEVICES - CUT && disconnected === CUT) break;
    await sleep(500);
  }
  const fleetReadyMs = Date.now() - fleetStarted;

  const runs: Array<{ devicesRendered: number; fleetCounted: number; load: number }> = [];
  for (let run = 0; run < RUNS; run += 1) {
    const browser = await launchHeadlessChromium('dashboard-measure-profile-');
    const { context } = browser;
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${stack.httpUrl}/`);
      await page.waitForFunction(
        () => performance.getEntriesByName('iot-presence:fleet-counted').length > 0,
        undefined,
        { timeout: 60_000 },
      );
      // A string, so that no transform (tsx names its functions) reaches the page.
      runs.push(
        await page.evaluate<{ devicesRendered: number; fleetCounted: number; load: number }>(`({
          devicesRendered: Math.round(performance.getEntriesByName('iot-presence:devices-rendered')[0].startTime),
          fleetCounted: Math.round(performance.getEntriesByName('iot-presence:fleet-counted')[0].startTime),
          load: Math.round(performance.getEntriesByType('navigation')[0].loadEventEnd),
        })`),
      );
    } finally {
      await browser.close();
    }
  }
  const sizes = assetSizes(assetsDir);
  console.log(
    JSON.stringify(
      {
        devices: DEVICES,
        disconnected: CUT,
        fleetReadyMs,
        runs,
        medianMs: {
          devicesRendered: median(runs.map((run) => run.devicesRendered)),
          fleetCounted: median(runs.map((run) => run.fleetCounted)),
          load: median(runs.map((run) => run.load)),
        },
        assets: sizes,
      },
      null,
      2,
    ),
  );
} finally {
  for (const client of clients) client.end(true);
  await stack.stop();
  rmSync(assetsDir, { recursive: true, force: true });
}
