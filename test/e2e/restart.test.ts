import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMqtt } from '../fixtures/mqtt-clients.js';
import { projectRoot } from '../fixtures/serverless-template.js';

const W_SECONDS = 3;

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
const started: StackProcess[] = [];

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
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts the local stack in a process of its own, keeping its data in `dataDir`, on free ports. */
async function startStack(): Promise<StackProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/local/start.ts'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      MQTT_PORT: '0',
      HTTP_PORT: '0',
      SETTLE_WINDOW_SECONDS: String(W_SECONDS),
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
    60_000,
  );
  const stack: StackProcess = {
    child,
    output: () => text,
    mqttUrl: /mqtt:\/\/127\.0\.0\.1:\d+/.exec(banner)?.[0] as string,
    apiUrl: /HTTP API[^\n]*?(http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1] as string,
    dynamoPid: Number(/\(pid (\d+);/.exec(banner)?.[1]),
    exited,
  };
  started.push(stack);
  return stack;
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

const alertLines = (output: string, deviceId: string) =>
  output.split('\n').filter((line) => line.startsWith('[alert]') && line.includes(` ${deviceId} `));

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'iot-presence-restart-'));
});

afterAll(async () => {
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

describe('npm start keeps its data across a crash', () => {
  it('still has the devices, events and alerts acknowledged before a SIGKILL, settles a check the crash lost, and publishes no alert twice', async () => {
    // Arrange: a device that stays, one whose outage was alerted, one cut just before the crash.
    const first = await startStack();
    const clients: MqttClient[] = [];
    const stays = await connectMqtt(first.mqttUrl, { clientId: 'keep-stays', keepalive: 30 });
    const alerted = await connectMqtt(first.mqttUrl, { clientId: 'keep-alerted', keepalive: 30 });
    clients.push(stays, alerted);
    alerted.stream.destroy();
    await waitFor(
      'the offline alert of keep-alerted',
      () => alertLines(first.output(), 'keep-alerted')[0],
      20_000,
    );
    const pending = await connectMqtt(first.mqttUrl, { clientId: 'keep-pending', keepalive: 30 });
    clients.push(pending);
    pending.stream.destroy();
    await waitFor(
      'keep-pending to be stored as disconnected',
      async () => {
        const { body } = await getJson(`${first.apiUrl}/devices/keep-pending`);
        return body.status === 'disconnected' ? true : undefined;
      },
      10_000,
    );

    // Act: crash in the middle of keep-pending's settle window, then start again on the same data.
    await crash(first);
    for (const client of clients) client.end(true);
    const second = await startStack();
    await waitFor(
      'the offline alert of keep-pending',
      () => alertLines(second.output(), 'keep-pending')[0],
      20_000,
    );
    // Give a second publication every chance to happen: a sweep tick and more than W.
    await new Promise((resolve) => setTimeout(resolve, (W_SECONDS + 2) * 1000));

    // Assert
    expect(second.output()).toContain('kept from the last run');
    const stayed = await getJson(`${second.apiUrl}/devices/keep-stays`);
    expect(stayed).toMatchObject({ status: 200, body: { status: 'connected' } });
    const wasAlerted = await getJson(`${second.apiUrl}/devices/keep-alerted`);
    expect(wasAlerted).toMatchObject({ status: 200, body: { status: 'disconnected' } });
    const events = await getJson(`${second.apiUrl}/devices/keep-alerted/events`);
    expect((events.body.items as Array<{ kind: string }>).map((event) => event.kind)).toEqual([
      'disconnected',
      'connected',
    ]);
    const alerts = await getJson(`${second.apiUrl}/alerts?limit=100`);
    const ledger = (alerts.body.items as Array<{ deviceId: string; type: string }>)
      .filter((alert) => alert.deviceId.startsWith('keep-'))
      .map((alert) => `${alert.type} ${alert.deviceId}`)
      .sort();
    expect(ledger).toEqual(['offline keep-alerted', 'offline keep-pending']);
    expect(alertLines(first.output(), 'keep-alerted')).toHaveLength(1);
    expect(alertLines(second.output(), 'keep-alerted')).toEqual([]);
    expect(alertLines(second.output(), 'keep-pending')).toHaveLength(1);
  }, 150_000);
});
