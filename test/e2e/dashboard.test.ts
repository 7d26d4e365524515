import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../../dashboard/server/build.js';
import { startDashboardServer } from '../../dashboard/server/dashboard-server.js';
import { type HeadlessBrowser, launchHeadlessChromium } from '../../dashboard/server/headless-chromium.js';
import { staticAssets } from '../../dashboard/server/static-assets.js';
import { type LocalStack, startLocalStack } from '../../src/local/local-stack.js';
import { AlertInbox, destroySocket, processIsAlive } from '../fixtures/local-stack.js';
import { connectMqtt, sleep } from '../fixtures/mqtt-clients.js';

// The SDK's notice that it will need Node 22 in 2027 is noise in a test run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** W: short, so that an outage longer than W takes seconds. */
const W_SECONDS = 4;
const W = W_SECONDS * 1000;
/** Set to a folder (e.g. docs) to keep the screenshots: dashboard.png, dashboard-phone.png, dashboard-device.png. */
const KEEP_SCREENSHOTS = process.env.DASHBOARD_SCREENSHOTS;
/** FLEET_OUTAGE_MIN_DEVICES of this stack: the outage below takes 30 devices. */
const FLEET_OUTAGE_MIN_DEVICES = 25;

const inbox = new AlertInbox();
const clients: MqttClient[] = [];
const pageErrors: string[] = [];
let stack: LocalStack;
let assetsDir: string;
let profileDir: string;
let context: BrowserContext;
let browser: HeadlessBrowser | undefined;
let page: Page;

const prefix = `dash-${process.pid}`;
const ids = { steady: `${prefix}-steady`, cut: `${prefix}-cut`, other: `${prefix}-other` };

async function device(id: string): Promise<MqttClient> {
  const will = { state: { reported: { last_will: 'yes', trigger_action: 'on', client_id: id } } };
  const client = await connectMqtt(stack.mqttUrl, {
    clientId: id,
    clean: true,
    keepalive: 10,
    connectTimeout: 10_000,
    will: { topic: `devices/${id}/will`, payload: Buffer.from(JSON.stringify(will)), qos: 0, retain: false },
  });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

/** The chromium processes started with our profile directory (found by their command line, stopped by PID). */
function browserPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (commandLine.includes(`--user-data-dir=${profileDir}`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Retries `check` (vitest expectations) until it passes; fails with its last error after timeoutMs. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

interface Row {
  [column: string]: string;
}

/** A table of the page as the user reads it: one object per row, keyed by column header, status dots left out. */
async function tableRows(selector: string): Promise<Row[]> {
  const table = page.locator(selector);
  if ((await table.count()) === 0) return [];
  return table.evaluate((element) => {
    const headers = [...element.tHead.rows[0].cells]
      .filter((cell) => !cell.hidden)
      .map((cell) => String(cell.textContent).trim().toLowerCase());
    return [...element.tBodies[0].rows].map((row) => {
      const entry: Record<string, string> = {};
      [...row.cells].forEach((cell, index) => {
        entry[headers[index] ?? String(index)] = String(cell.innerText)
          .replace('●', '')
          .replace(/\s+/g, ' ')
          .trim();
      });
      return entry;
    });
  });
}

const deviceRow = async (id: string) => (await tableRows('#devices')).find((row) => row.device === id);
const alertRows = async (id: string) => (await tableRows('#alerts')).filter((row) => row.device === id);

beforeAll(async () => {
  assetsDir = mkdtempSync(join(tmpdir(), 'dashboard-e2e-assets-'));
  await buildDashboard(assetsDir);
  stack = await startLocalStack({
    mqttPort: 0,
    httpPort: 0,
    settleWindowSeconds: W_SECONDS,
    onAlert: inbox.push,
    dashboardDir: assetsDir,
    env: { FLEET_OUTAGE_MIN_DEVICES: String(FLEET_OUTAGE_MIN_DEVICES) },
  });
  browser = await launchHeadlessChromium('dashboard-e2e-profile-');
  ({ context, profile: profileDir } = browser);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    // Failed requests are checked below, by response.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageErrors.push(message.text());
    }
  });
  page.on('response', (response) => {
    // Two 404s are answers, not errors: GET /fleet on an API without the route (the page asks again once a minute),
    // and GET /devices/{id} for an id never seen, which a search by id asks when the listing may not hold it.
    const path = new URL(response.url()).pathname;
    const answer = response.status() === 404 && (path === '/fleet' || /^\/devices\/[^/]+$/.test(path));
    if (response.status() >= 400 && !answer) pageErrors.push(`${response.status()} ${response.url()}`);
  });
});

afterAll(async () => {
  const pids = profileDir ? browserPids() : [];
  await browser?.close().catch(() => undefined);
  for (const pid of pids) if (processIsAlive(pid)) process.kill(pid, 'SIGKILL');
  for (const client of clients) client.end(true);
  await stack?.stop();
  if (assetsDir) rmSync(assetsDir, { recursive: true, force: true });
});

describe('the live fleet dashboard on the local stack (W = 4 s)', () => {
  it('lists connected devices, shows a cut device disconnected with its reason, its offline alert after W and its online alert on return', async () => {
    // Arrange
    await device(ids.steady);
    const cut = await device(ids.cut);
    await device(ids.other);
    await page.goto(`${stack.httpUrl}/`);
    await page.getByLabel('Refresh every').selectOption('2');
    for (const id of Object.values(ids)) {
      await eventually(async () => expect(await deviceRow(id)).toMatchObject({ status: 'connected' }));
    }

    // Act: power loss
    const cutAt = Date.now();
    destroySocket(cut);

    // Assert: disconnected with its reason, the others untouched
    const dropped = await eventually(async () => {
      const row = await deviceRow(ids.cut);
      expect(row).toMatchObject({ status: 'disconnected', reason: 'CONNECTION_LOST' });
      return row as Row;
    });
    expect(dropped.since).toMatch(/(just now|\d+ s ago)\s*\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    expect(await deviceRow(ids.steady)).toMatchObject({ status: 'connected' });

    // Assert: the offline alert appears in the feed, and not before W
    await eventually(async () => {
      const rows = await alertRows(ids.cut);
      expect(rows).toEqual([expect.objectContaining({ type: 'offline', what: 'offline: CONNECTION_LOST' })]);
    }, W + 12_000);
    expect(Date.now() - cutAt).toBeGreaterThanOrEqual(W);
    // The ledger lists an alert as soon as it is decided; "published" fills in once SNS took it.
    await eventually(async () =>
      expect((await alertRows(ids.cut))[0]?.published).toMatch(/(just now|\d+ s ago)\s*\d{4}-\d{2}-\d{2}/),
    );
    await eventually(async () => expect((await deviceRow(ids.cut))?.['last will']).toMatch(/^yes/));

    // Assert: the page as a person sees it now can be captured (and kept for the README when asked)
    const screenshot = await page.screenshot({ fullPage: true });
    expect(screenshot.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(screenshot.length).toBeGreaterThan(10_000);

    // Act: the device comes back
    await device(ids.cut);

    // Assert: connected again, and the online alert above the offline one
    await eventually(async () => expect(await deviceRow(ids.cut)).toMatchObject({ status: 'connected' }));
    await eventually(async () =>
      expect((await alertRows(ids.cut)).map((row) => row.type)).toEqual(['online', 'offline']),
    );
    expect(await page.locator('#updated').innerText()).toMatch(/^updated \d+ s ago$/);
    expect(inbox.forDevice(ids.cut).map((alert) => alert.type)).toEqual(['offline', 'online']);

    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('opens a device page with its state, a drawn timeline of its spans, its alerts and its events', async () => {
    // Arrange: an outage longer than W, then back
    const id = `${prefix}-outage`;
    destroySocket(await device(id));
    await inbox.waitForDevice(id, 1, W + 12_000);
    await device(id);
    await inbox.waitForDevice(id, 2, 10_000);
    await page.goto(`${stack.httpUrl}/`);
    await page.getByLabel('Search by device id').fill(id);
    const link = page.locator('#devices').getByRole('link', { name: id, exact: true });
    await link.waitFor();

    // Act: by keyboard
    await link.focus();
    await page.keyboard.press('Enter');

    // Assert: the device page, with focus on its heading
    await eventually(async () => {
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe(`Device ${id}`);
      expect(await page.locator(':focus').getAttribute('id')).toBe('device-title');
      const state = await page.locator('#device-state').innerText();
      expect(state).toMatch(/^status\s*● connected\s*since/i);
    });

    // Act: zoom the timeline to the last 10 minutes and open its table
    await page.getByLabel('Show the last').selectOption({ label: '10 minutes' });
    await page.getByText('The spans as a table').click();

    // Assert
    const spans = await eventually(async () => {
      const rows = await page
        .locator('#timeline rect')
        .evaluateAll((rects) => rects.map((rect) => rect.getAttribute('class')));
      expect(rows).toEqual(
        expect.arrayContaining(['span span-connected', 'span span-disconnected', 'span span-connected']),
      );
      return tableRows('#spans');
    });
    expect(spans.map((row) => row.state)).toEqual(['connected', 'disconnected', 'connected', 'unknown']);
    expect(spans[1]?.reason).toBe('CONNECTION_LOST');
    expect(await page.getByRole('img').getAttribute('aria-label')).toMatch(
      /^Connected \d+\.\d% .* 1 disconnected span\.$/,
    );
    expect((await tableRows('#device-alerts')).map((row) => row.type)).toEqual(['online', 'offline']);
    const events = (await tableRows('#events')).map((row) => row.event);
    expect(events).toEqual(expect.arrayContaining(['connected', 'disconnected', 'will']));
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('is usable at phone width and by keyboard: labelled controls, a visible focus, search by id', async () => {
    // Arrange
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${stack.httpUrl}/`);
    await eventually(async () => expect(await deviceRow(ids.steady)).toBeDefined());

    // Act
    await page.keyboard.press('Tab');
    const skipLink = await page.locator(':focus').evaluate((active) => {
      const style = active.ownerDocument.defaultView.getComputedStyle(active);
      return { text: active.textContent, outline: `${style.outlineStyle} ${style.outlineWidth}` };
    });
    await page.keyboard.press('Enter');
    const afterSkip = await page.locator(':focus').getAttribute('id');
    await page.getByLabel('Search by device id').fill('-steady');

    // Assert
    expect(skipLink).toEqual({ text: 'Skip to content', outline: 'solid 3px' });
    expect(afterSkip).toBe('main');
    await eventually(async () =>
      expect((await tableRows('#devices')).map((row) => row.device)).toEqual([ids.steady]),
    );
    expect(await page.getByLabel('Status').count()).toBe(1);
    // The lists say which status they go by.
    expect(await page.getByLabel('Status').textContent()).toContain('Disconnected (outage confirmed)');
    expect(await page.locator('#devices-listed-by').textContent()).toMatch(/settled status/);
    expect(await page.getByLabel('Refresh every').count()).toBe(1);
    const width = await page
      .locator('html')
      .evaluate((root) => [root.scrollWidth, root.ownerDocument.defaultView.innerWidth]);
    expect(width[0]).toBeLessThanOrEqual(width[1] as number);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('prefers the counts of GET /fleet when the API answers it, and shows versionNumber when items carry it', async () => {
    // Arrange: an API that already has GET /fleet and versioned list items (what the next API version adds)
    const since = new Date(Date.now() - 60_000).toISOString();
    const answers: Record<string, unknown> = {
      '/fleet': {
        connected: 1200,
        disconnected: 34,
        unsettled: 5,
        disconnectedByReason: { CONNECTION_LOST: 30, THROTTLED: 4 },
      },
      '/devices': {
        items: [
          {
            deviceId: 'v-1',
            status: 'connected',
            since,
            sessionIdentifier: 's',
            disconnectReason: null,
            settled: true,
            versionNumber: 7,
          },
        ],
        cursor: null,
      },
      '/devices?status=disconnected': { items: [], cursor: null },
      '/alerts': { items: [], cursor: null },
      '/incidents': { items: [], cursor: null },
    };
    const api = await startDashboardServer({
      port: 0,
      assets: staticAssets(assetsDir),
      forward: async (request, response) => {
        const url = new URL(request.url ?? '/', 'http://x');
        const status = url.searchParams.get('status');
        const path = status === 'disconnected' ? '/devices?status=disconnected' : url.pathname;
        if (!(path in answers)) return false;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answers[path]));
        return true;
      },
    });
    try {
      await page.setViewportSize({ width: 1280, height: 900 });

      // Act
      await page.goto(`${api.url}/`);

      // Assert
      await eventually(async () => {
        const glance = await page.locator('#glance').innerText();
        expect(glance).toMatch(/Connected\s*1,200\s*Disconnected\s*34\s*Unsettled\s*5/);
        expect(glance).toContain('Counted by GET /fleet.');
      });
      expect(await tableRows('#reasons')).toEqual([
        { reason: 'CONNECTION_LOST', devices: '30' },
        { reason: 'THROTTLED', devices: '4' },
      ]);
      await eventually(async () =>
        expect(await tableRows('#devices')).toEqual([
          expect.objectContaining({ device: 'v-1', version: '7' }),
        ]),
      );
      expect(pageErrors).toEqual([]);
    } finally {
      await api.stop();
    }
  }, 30_000);

  it('shows a clientId fight and a 30-device outage: each alert in its words, the incident and its members, the episodes, the chart, on a desktop and at 390 px', async () => {
    // Arrange: a fleet of 30, and two clients fighting over one client id
    await page.setViewportSize({ width: 1280, height: 900 });
    const fleetIds = Array.from({ length: 30 }, (_, index) => `${prefix}-fleet-${index + 1}`);
    const fleet: MqttClient[] = [];
    for (const id of fleetIds) fleet.push(await device(id));
    const fightId = `${prefix}-fight`;
    await page.goto(`${stack.httpUrl}/`);
    await page.getByLabel('Refresh every').selectOption('2');

    // Act: four clients take the id from each other in turn (three takeovers), the last one stays; then the fleet
    // loses its connections
    for (let turn = 0; turn < 4; turn += 1) {
      const fighter = await connectMqtt(stack.mqttUrl, {
        clientId: fightId,
        keepalive: 10,
        connectTimeout: 10_000,
      });
      fighter.on('error', () => undefined);
      clients.push(fighter);
      await sleep(300);
    }
    await eventually(async () => {
      expect(inbox.forDevice(fightId).map((alert) => alert.type)).toContain('clientid-conflict');
    }, 30_000);
    for (const client of fleet) destroySocket(client);
    await eventually(async () => {
      expect(
        inbox.alerts.map((alert) => alert.type),
        inbox.alerts.map((alert) => `${alert.type} ${alert.deviceId ?? alert.incidentId}`).join('\n'),
      ).toContain('fleet-outage');
    }, W + 30_000);

    // Assert: the alerts, each in its own words
    await eventually(async () => {
      const rows = await tableRows('#alerts');
      expect(rows).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            type: 'clientId conflict',
            device: fightId,
            what: 'clientId conflict: 3 takeovers in 5 min from 127.0.0.1',
          }),
          expect.objectContaining({
            type: 'fleet outage',
            // Announced with the devices that opened the incident (at least 25); the others join it after.
            device: expect.stringMatching(/^fleet, \d+ devices$/),
            what: expect.stringMatching(/^fleet outage: (\d+) devices offline \(\1 CONNECTION_LOST\)$/),
          }),
        ]),
      );
    }, 20_000);
    // Assert: the open incident with its members, the glance, the chart
    const incident = page.locator('#incidents article').first();
    await eventually(async () => {
      // The 30, and any device of the earlier tests whose outage fell in the same window.
      expect(await incident.locator('h3').innerText()).toMatch(/^open\s+3\d devices offline$/);
      expect(await incident.locator('.members a').count()).toBe(12);
      expect(await incident.innerText()).toMatch(/and \d+ more/);
      expect(await page.locator('#glance').innerText()).toMatch(/Open incidents\s*1/);
      // The last devices join after the outage alert; a loaded machine places them seconds later (CI once saw 28).
    }, 30_000);
    expect(await page.locator('#fleet-chart svg polyline').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#fleet-chart svg').getAttribute('aria-label')).toMatch(/disconnected/);
    // Assert: the fighting device's episode in the list
    await page.getByLabel('Search by device id').fill('-fight');
    await eventually(async () =>
      expect(await deviceRow(fightId)).toMatchObject({ episodes: 'clientId conflict' }),
    );
    await page.getByLabel('Search by device id').fill('');
    const desktop = await page.screenshot({
      fullPage: true,
      clip: { x: 0, y: 0, width: 1280, height: 2000 },
    });

    // Assert: at 390 px nothing is cut: no sideways scrolling, every cell inside the screen
    await page.setViewportSize({ width: 390, height: 844 });
    await eventually(async () => {
      const overflow = await page.locator('html').evaluate((root) => {
        const width = root.ownerDocument.defaultView.innerWidth;
        // Every cell a person sees: the rows, and the header of the one table that keeps its columns (the reasons).
        const cells = [
          ...root.ownerDocument.querySelectorAll(
            'table.data tbody td, table.data tbody th, table.data.compact th',
          ),
        ];
        const cut = cells.filter((cell) => {
          const box = cell.getBoundingClientRect();
          return box.width > 0 && box.right > width + 1;
        });
        return { scroll: root.scrollWidth - width, cut: cut.length };
      });
      expect(overflow).toEqual({ scroll: 0, cut: 0 });
    });
    const phone = await page.screenshot({ fullPage: true, clip: { x: 0, y: 0, width: 390, height: 2600 } });

    // Assert: the fighting device's page, its episode and a timeline with no zero-length span
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${stack.httpUrl}/#/device/${encodeURIComponent(fightId)}`);
    await eventually(async () => {
      expect(await page.locator('#device-state').innerText()).toMatch(/Episodes\s*clientId conflict/i);
      expect(await page.getByLabel('Show the last').inputValue()).toBe(String(10 * 60_000));
    });
    await page.getByText('The spans as a table').click();
    const spans = await eventually(async () => {
      const rows = await tableRows('#spans');
      expect(rows.some((row) => Number(row.takeovers) > 0)).toBe(true);
      return rows;
    });
    expect(spans.filter((row) => row.state === 'disconnected')).toEqual([]);
    expect((await tableRows('#device-alerts')).map((row) => row.type)).toContain('clientId conflict');
    const devicePage = await page.screenshot({ fullPage: true });

    // Act: the fleet comes back
    for (const id of fleetIds) await device(id);

    // Assert: the incident closes and its end is said too
    await page.goto(`${stack.httpUrl}/`);
    await eventually(async () => {
      expect((await tableRows('#alerts')).map((row) => row.what)).toContainEqual(
        expect.stringMatching(/^fleet recovered after [\d a-z]+: \d of 3\d devices still offline$/),
      );
    }, 30_000);
    if (KEEP_SCREENSHOTS) {
      writeFileSync(join(KEEP_SCREENSHOTS, 'dashboard.png'), desktop);
      writeFileSync(join(KEEP_SCREENSHOTS, 'dashboard-phone.png'), phone);
      writeFileSync(join(KEEP_SCREENSHOTS, 'dashboard-device.png'), devicePage);
    }
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
