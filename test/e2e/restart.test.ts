import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/local/services/free-port.js';
import { connectMqtt } from '../fixtures/mqtt-clients.js';
import { projectRoot } from '../fixtures/serverless-template.js';

const W_SECONDS = 10;
/** The fleet counts' tumbling window of these runs (30 s when deployed). */
const COUNT_WINDOW_SECONDS = 2;
/** Devices whose MQTT clients reconnect on their own after every restart. */
const STAYING = ['restart-stays-1', 'restart-stays-2', 'restart-stays-3', 'restart-stays-4'];

/** One `npm start` process (src/local/start.ts under Node with tsx), with what its banner told. */
interface StackProcess {
  child: ChildProcess;
  output: () => string;
  mqttUrl: string;
  apiUrl: string;
  dynamoPid: number;
  exited: Promise<void>;
}

let dataDir: string;
let mqttPort: number;
let httpPort: number;
const started: StackProcess[] = [];
const clients: MqttClient[] = [];

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the local stack in a process of its own, keeping its data in `dataDir`, on the same ports every time. */
async function startStack(): Promise<StackProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/local/start.ts'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      MQTT_PORT: String(mqttPort),
      HTTP_PORT: String(httpPort),
      SETTLE_WINDOW_SECONDS: String(W_SECONDS),
      FLEET_COUNT_WINDOW_SECONDS: String(COUNT_WINDOW_SECONDS),
      LOCAL_DATA_DIR: dataDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const banner = await waitFor(
    'the banner of the local stack',
    () => {
      if (child.exitCode !== null) throw new Error(`the local stack exited:\n${text}`);
      return text.includes('Ctrl-C stops everything') ? text : undefined;
    },
    90_000,
  );
  const stack: StackProcess = {
    child,
    output: () => text,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    apiUrl: `http://127.0.0.1:${httpPort}`,
    dynamoPid: Number(/\(pid (\d+);/.exec(banner)?.[1]),
    exited,
  };
  started.push(stack);
  return stack;
}

/** Ctrl-C: the stack stops everything it started. */
async function stopGracefully(stack: StackProcess): Promise<void> {
  stack.child.kill('SIGINT');
  await stack.exited;
}

/** SIGKILL, as a crash: the stack process, then its DynamoDB Local (a crash leaves it behind), by their PIDs. */
async function crash(stack: StackProcess): Promise<void> {
  stack.child.kill('SIGKILL');
  await stack.exited;
  try {
    process.kill(stack.dynamoPid, 'SIGKILL');
  } catch {
    // Already gone.
  }
  await waitFor(
    'DynamoDB Local to exit',
    () => {
      try {
        process.kill(stack.dynamoPid, 0);
        return undefined;
      } catch {
        return true;
      }
    },
    10_000,
  );
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface DeviceBody {
  status?: string;
  versionNumber?: number | null;
  disconnectReason?: string | null;
}

const device = async (stack: StackProcess, deviceId: string) =>
  (await getJson(`${stack.apiUrl}/devices/${deviceId}`)).body as DeviceBody;

/** Every device the listing of one status holds, all pages. */
/** The live status of every device a listing holds (listings are keyed by settled status; GET /fleet counts live). */
async function listed(stack: StackProcess, status: 'connected' | 'disconnected'): Promise<string[]> {
  const statuses: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const { body } = await getJson(`${stack.apiUrl}/devices?status=${status}&limit=100${query}`);
    statuses.push(...(body.items as Array<{ status: string }>).map((item) => item.status));
    cursor = (body.cursor as string | null) ?? null;
  } while (cursor);
  return statuses;
}

interface Figure {
  fleet: { connected: number; disconnected: number };
  listings: { connected: number; disconnected: number };
}

async function countsAndTruth(stack: StackProcess): Promise<Figure> {
  const { body } = await getJson(`${stack.apiUrl}/fleet`);
  const live = [...(await listed(stack, 'connected')), ...(await listed(stack, 'disconnected'))];
  return {
    fleet: { connected: body.connected as number, disconnected: body.disconnected as number },
    listings: {
      connected: live.filter((status) => status === 'connected').length,
      disconnected: live.filter((status) => status === 'disconnected').length,
    },
  };
}

const agrees = (figure: Figure) =>
  figure.fleet.connected === figure.listings.connected &&
  figure.fleet.disconnected === figure.listings.disconnected;

/**
 * GET /fleet once it agrees with the listings, then again after three more count windows: a stream read again
 * from its start would add the fleet a second time in the first window after the start.
 */
async function settledFigure(stack: StackProcess): Promise<Figure> {
  await waitFor(
    'GET /fleet to agree with the listings',
    async () => {
      const figure = await countsAndTruth(stack);
      return agrees(figure) ? figure : undefined;
    },
    30_000,
  ).catch(async (error: unknown) => {
    throw new Error(
      `${(error as Error).message}: ${JSON.stringify(await countsAndTruth(stack))}\n${stack.output().slice(-4_000)}`,
    );
  });
  await sleep(3 * COUNT_WINDOW_SECONDS * 1000);
  return countsAndTruth(stack);
}

const offlineAlertLines = (output: string, deviceId: string) =>
  output.split('\n').filter((line) => line.startsWith(`[alert] offline ${deviceId} `));

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'iot-presence-restart-'));
  mqttPort = await freePort();
  httpPort = await freePort();
});

afterAll(async () => {
  for (const client of clients) client.end(true);
  for (const stack of started) {
    if (stack.child.exitCode === null && stack.child.signalCode === null) {
      stack.child.kill('SIGINT');
      await stack.exited;
    }
    try {
      process.kill(stack.dynamoPid, 'SIGKILL');
    } catch {
      // Stopped with its stack.
    }
  }
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start keeps the truth across restarts', () => {
  it('after three restarts (one a SIGKILL) GET /fleet equals the listings, devices come back at higher versions, cut connections end once, and a later drop is alerted once', async () => {
    // Arrange: devices that reconnect on their own, each with a will.
    let stack = await startStack();
    for (const clientId of STAYING) {
      clients.push(
        await connectMqtt(stack.mqttUrl, {
          clientId,
          keepalive: 30,
          reconnectPeriod: 250,
          connectTimeout: 15_000,
          will: { topic: `devices/${clientId}/will`, payload: Buffer.from('gone'), qos: 1, retain: false },
        }),
      );
    }
    const versions = new Map<string, number>();
    for (const clientId of STAYING) {
      const seen = await waitFor(
        `${clientId} to be stored as connected`,
        async () => {
          const body = await device(stack, clientId);
          return body.status === 'connected' ? body : undefined;
        },
        20_000,
      );
      versions.set(clientId, seen.versionNumber as number);
    }
    const figures: Figure[] = [await settledFigure(stack)];

    // Act and assert, once per restart: a device connected at the stop whose client never comes back.
    const stops = ['SIGINT', 'SIGKILL', 'SIGINT'] as const;
    for (const [index, how] of stops.entries()) {
      const goneId = `restart-gone-${index + 1}`;
      const gone = await connectMqtt(stack.mqttUrl, { clientId: goneId, keepalive: 30 });
      clients.push(gone);
      await waitFor(
        `${goneId} to be stored as connected`,
        async () => ((await device(stack, goneId)).status === 'connected' ? true : undefined),
        20_000,
      );
      if (how === 'SIGKILL') await crash(stack);
      else await stopGracefully(stack);
      gone.end(true);

      stack = await startStack();
      expect(stack.output()).toContain('kept from the last run');
      for (const clientId of STAYING) {
        const before = versions.get(clientId) as number;
        const after = await waitFor(
          `${clientId} to reconnect at a version above ${before}`,
          async () => {
            const body = await device(stack, clientId);
            return body.status === 'connected' && (body.versionNumber ?? -1) > before
              ? body.versionNumber
              : undefined;
          },
          30_000,
        );
        versions.set(clientId, after as number);
      }
      const ended = await waitFor(
        `${goneId} to be ended by the start`,
        async () => {
          const body = await device(stack, goneId);
          return body.status === 'disconnected' ? body : undefined;
        },
        20_000,
      );
      expect(ended.disconnectReason).toBe('SERVER_INITIATED_DISCONNECT');
      const figure = await settledFigure(stack);
      figures.push(figure);
      expect(figure.fleet, `after restart ${index + 1} (${how})`).toEqual(figure.listings);
    }

    // A device that came back three times drops for good.
    const dropping = clients[0] as MqttClient;
    dropping.options.reconnectPeriod = 0;
    dropping.stream.destroy();
    await waitFor(
      'the offline alert of restart-stays-1',
      () => offlineAlertLines(stack.output(), 'restart-stays-1')[0],
      30_000,
    );
    // Give a second alert every chance: more than W and a sweep tick.
    await sleep((W_SECONDS + 3) * 1000);
    figures.push(await settledFigure(stack));

    // Assert
    const figuresFile = process.env.IOT_PRESENCE_RESTART_FIGURES;
    if (figuresFile) writeFileSync(figuresFile, JSON.stringify(figures));
    for (const figure of figures) expect(figure.fleet).toEqual(figure.listings);
    const alerts = await getJson(`${stack.apiUrl}/alerts?limit=100`);
    const ledger = (alerts.body.items as Array<{ deviceId: string; type: string }>)
      .filter((alert) => alert.deviceId.startsWith('restart-') && alert.type === 'offline')
      .map((alert) => alert.deviceId)
      .sort();
    const alertLog = started
      .map((run, index) =>
        run
          .output()
          .split('\n')
          .filter((line) => line.startsWith('[alert]') || line.includes('[local-stack]'))
          .map((line) => `run ${index + 1}: ${line}`)
          .join('\n'),
      )
      .join('\n');
    expect(ledger, alertLog).toEqual([
      'restart-gone-1',
      'restart-gone-2',
      'restart-gone-3',
      'restart-stays-1',
    ]);
    const allOutput = started.map((run) => run.output()).join('\n');
    expect(offlineAlertLines(allOutput, 'restart-stays-1')).toHaveLength(1);
    for (const clientId of STAYING.slice(1)) expect(offlineAlertLines(allOutput, clientId)).toEqual([]);
    expect(figures.at(-1)?.listings).toEqual({ connected: 3, disconnected: 4 });
  }, 420_000);
});
