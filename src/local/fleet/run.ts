/** The fleet's devices on the wire: real MQTT.js clients playing their plans against the broker. */
import { createConnection } from 'node:net';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import {
  type ExpectedAlert,
  FIGHT_TAKEOVERS,
  FLAPPING_DROPS,
  type Plan,
  type scenarioTimings,
  willPayload,
} from './plan.js';
import { listDeviceIds, sleep, stackSettings } from './verify.js';

export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  });
  await Promise.all(workers);
}

/** Checks that the stack is there and runs with this W; answers its settings (GET /health). */
export async function preflight(
  mqttUrl: string,
  apiUrl: string,
  /** The W this run was told to expect; undefined: the stack's, read from GET /health. */
  settleWindowSeconds: number | undefined,
): Promise<Awaited<ReturnType<typeof stackSettings>>> {
  const url = new URL(mqttUrl);
  const port = Number(url.port || 1883);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const unreachable = await new Promise<string | undefined>((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve('timed out');
    });
    socket.once('connect', () => {
      socket.end();
      resolve(undefined);
    });
    socket.once('error', (error) => resolve(error.message));
  });
  if (unreachable)
    throw new Error(`no MQTT broker at ${mqttUrl} (${unreachable}); is \`npm start\` running?`);
  try {
    await listDeviceIds(apiUrl, 'connected', 1);
  } catch (error) {
    throw new Error(
      `the HTTP API at ${apiUrl} does not answer (${(error as Error).message}); is \`npm start\` running?`,
    );
  }
  const stack = await stackSettings(apiUrl);
  if (settleWindowSeconds !== undefined && stack.SETTLE_WINDOW_SECONDS !== settleWindowSeconds) {
    throw new Error(
      `the stack at ${apiUrl} runs with W = ${stack.SETTLE_WINDOW_SECONDS} s (GET /health) and this simulation with ` +
        `W = ${settleWindowSeconds} s: every expected alert would be wrong. Leave W out: the simulation reads it from the stack.`,
    );
  }
  return stack;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The local stack has no authentication and listens on loopback only: refuse to drive anything else. */
export function assertLoopback(url: string, what: string): void {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new Error(`${what} is not a URL: ${url}`);
  }
  if (!LOOPBACK_HOSTS.has(host))
    throw new Error(`${what} must point at the local stack on loopback, not ${host}`);
}

export class SimDevice {
  client: MqttClient | undefined;
  /** Instances cut off (silent or taken over) that still need closing at the end. */
  abandoned: MqttClient[] = [];
  connects = 0;
  expected: ExpectedAlert[] = [];
  expectedStatus: 'connected' | 'disconnected' = 'connected';
  expectedReason: string | null = null;
  expectWill = false;
  longestOutageMs = 0;
  lastActionAt = 0;
  lastOutcomeAt = 0;
  /** When everything the service owes for this device (state, alerts) is due, margin included. */
  settledBy = 0;
  /** Whether its scenario has played out. */
  done = false;

  constructor(
    readonly id: string,
    readonly plan: Plan,
    private readonly base: IClientOptions,
    private readonly mqttUrl: string,
    private readonly note: (line: string) => void,
  ) {}

  /** A new client instance, no auto-reconnect: the simulator decides when a device comes back. */
  private open(): Promise<MqttClient> {
    const client = connect(this.mqttUrl, {
      ...this.base,
      clientId: this.id,
      will: {
        topic: `devices/${this.id}/will`,
        payload: Buffer.from(JSON.stringify(willPayload(this.id))),
        qos: 0,
        retain: false,
      },
    });
    // An EventEmitter without an 'error' listener throws: cut-off devices see plenty of errors.
    client.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      const onClose = () => {
        client.removeListener('connect', onConnect);
        client.end(true);
        reject(new Error(`${this.id}: connection closed before CONNACK`));
      };
      const onConnect = () => {
        client.removeListener('close', onClose);
        resolve(client);
      };
      client.once('connect', onConnect);
      client.once('close', onClose);
    });
  }

  /** Connects (retrying like a device with back-off); replaces the current instance unless it is kept (takeover). */
  async connect(): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const client = await this.open();
        this.connects += 1;
        this.client = client;
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        await sleep(200 * attempt);
      }
    }
  }

  /** Waits until the broker has closed the current connection (bounded). */
  async waitClosed(timeoutMs: number): Promise<void> {
    const client = this.client;
    if (!client?.connected) return;
    await Promise.race([
      new Promise<void>((resolve) => client.once('close', () => resolve())),
      sleep(timeoutMs),
    ]);
  }

  /** Power loss: the socket is gone without a DISCONNECT; the broker sees the connection drop at once. */
  cutSocket(): void {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    client.stream.destroy();
    client.end(true);
  }

  /** Silent death: the socket stays open but nothing is read or written any more, not even PINGREQ. */
  goSilent(): void {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    client.keepaliveManager?.destroy();
    client.stream.unpipe();
    client.stream.pause();
    this.abandoned.push(client);
  }

  /** Graceful shutdown: DISCONNECT, no will. */
  async endGracefully(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }

  /** The same client id from a second instance: the broker closes the first (DUPLICATE_CLIENTID). */
  async takeOver(): Promise<void> {
    const previous = this.client;
    const previousClosed = previous?.connected
      ? new Promise<void>((resolve) => previous.once('close', () => resolve()))
      : Promise.resolve();
    await this.connect();
    if (previous) {
      await Promise.race([previousClosed, sleep(5_000)]);
      previous.end(true);
    }
  }

  log(line: string): void {
    this.note(`${new Date().toISOString()} ${this.id} ${line}`);
  }

  /** Closes everything at the end; connected devices leave cleanly (no alert). */
  async shutdown(): Promise<void> {
    await this.endGracefully().catch(() => undefined);
    for (const client of this.abandoned.splice(0)) {
      client.stream.destroy();
      client.end(true);
    }
  }
}

export async function playScenario(
  device: SimDevice,
  phaseStart: number,
  timings: ReturnType<typeof scenarioTimings>,
  problems: string[],
  marginMs: number,
): Promise<void> {
  const { plan } = device;
  device.settledBy = Date.now() + marginMs;
  if (!device.client) {
    // It never came up (or not after the storm): nothing sensible to play.
    device.expectedStatus = 'disconnected';
    return;
  }
  const reconnect = async (label: string) => {
    try {
      await device.connect();
      device.log(`${label}: reconnected`);
      return true;
    } catch (error) {
      problems.push(`${device.id}: ${label} reconnect failed: ${(error as Error).message}`);
      return false;
    }
  };
  /** Waits out the planned downtime, reconnects, and records what the service should then report. */
  const comeBack = async (label: string, cutAt: number, onlineAlertExpected: boolean) => {
    await sleep(cutAt + plan.downMs - Date.now());
    const backAt = Date.now();
    device.longestOutageMs = Math.max(device.longestOutageMs, backAt - cutAt);
    device.lastActionAt = backAt;
    device.lastOutcomeAt = backAt;
    // An online alert is due within 10 s of the return; nothing older can still change.
    device.settledBy = backAt + marginMs;
    if (await reconnect(label)) {
      if (onlineAlertExpected) device.expected.push({ type: 'online', at: backAt });
    } else {
      device.expectedStatus = 'disconnected';
    }
  };
  await sleep(phaseStart + plan.startMs - Date.now());
  const cutAt = Date.now();
  device.lastActionAt = cutAt;
  device.lastOutcomeAt = cutAt;
  device.settledBy = cutAt + marginMs;
  switch (plan.kind) {
    case 'stable':
      return;
    case 'flap':
    case 'long-outage':
    case 'power-loss': {
      device.cutSocket();
      device.log(
        `${plan.kind}: socket destroyed${plan.recover ? `, back in ${(plan.downMs / 1000).toFixed(1)} s` : ''}`,
      );
      if (plan.kind !== 'flap')
        device.expected.push({ type: 'offline', reason: 'CONNECTION_LOST', at: cutAt });
      if (!plan.recover) {
        device.settledBy = cutAt + timings.w + marginMs;
        device.expectedStatus = 'disconnected';
        device.expectedReason = 'CONNECTION_LOST';
        device.expectWill = true;
        return;
      }
      await comeBack(plan.kind, cutAt, plan.kind === 'long-outage');
      return;
    }
    case 'silent-death': {
      device.goSilent();
      device.log(
        `silent-death: stopped reading and pinging${plan.recover ? `, back in ${(plan.downMs / 1000).toFixed(1)} s` : ''}`,
      );
      device.expected.push({ type: 'offline', reason: 'MQTT_KEEP_ALIVE_TIMEOUT', at: cutAt });
      device.lastOutcomeAt = cutAt + timings.detectMs;
      if (!plan.recover) {
        device.settledBy = cutAt + timings.detectMs + timings.w + marginMs;
        device.expectedStatus = 'disconnected';
        device.expectedReason = 'MQTT_KEEP_ALIVE_TIMEOUT';
        device.expectWill = true;
        return;
      }
      await comeBack('silent-death', cutAt, true);
      return;
    }
    case 'graceful':
      await device.endGracefully();
      device.log('graceful: DISCONNECT sent');
      device.expectedStatus = 'disconnected';
      device.expectedReason = 'CLIENT_INITIATED_DISCONNECT';
      device.expectWill = false;
      return;
    case 'takeover':
      try {
        await device.takeOver();
        device.log('takeover: a second instance connected with the same client id');
      } catch (error) {
        problems.push(`${device.id}: takeover connect failed: ${(error as Error).message}`);
        device.expectedStatus = 'disconnected';
      }
      return;
    case 'clientid-fight':
      // Instances with one clientId take the connection from each other: one clientid-conflict alert.
      for (let round = 1; round <= FIGHT_TAKEOVERS; round += 1) {
        try {
          await device.takeOver();
        } catch (error) {
          problems.push(`${device.id}: fight takeover ${round} failed: ${(error as Error).message}`);
          device.expectedStatus = 'disconnected';
          return;
        }
      }
      device.log(`clientid-fight: ${FIGHT_TAKEOVERS} takeovers of one client id`);
      device.expected.push({ type: 'clientid-conflict', at: Date.now() });
      device.settledBy = Date.now() + marginMs;
      return;
    case 'flapping':
      // Drops that each come back within W: no offline alert, one flapping alert at the sixth return.
      for (let drop = 1; drop <= FLAPPING_DROPS; drop += 1) {
        const droppedAt = Date.now();
        device.cutSocket();
        await sleep(droppedAt + plan.downMs - Date.now());
        if (!(await reconnect(`flapping drop ${drop}`))) {
          device.expectedStatus = 'disconnected';
          return;
        }
        device.longestOutageMs = Math.max(device.longestOutageMs, Date.now() - droppedAt);
      }
      device.log(`flapping: ${FLAPPING_DROPS} drops, each back in ${(plan.downMs / 1000).toFixed(1)} s`);
      device.expected.push({ type: 'flapping', at: Date.now() });
      device.lastActionAt = Date.now();
      device.lastOutcomeAt = Date.now();
      device.settledBy = Date.now() + marginMs;
      return;
  }
}

/** Phase 1: every device connects, `concurrency` CONNECTs in flight; `progress.sent` counts those sent. */
export async function connectFleet(
  devices: readonly SimDevice[],
  concurrency: number,
  progress: { sent: number },
  problems: string[],
): Promise<{ devices: number; seconds: number; perSecond: number; failures: number }> {
  const started = Date.now();
  let failures = 0;
  await forEachLimited(devices, concurrency, async (device) => {
    progress.sent += 1;
    try {
      await device.connect();
    } catch (error) {
      failures += 1;
      problems.push(`${device.id}: initial connect failed: ${(error as Error).message}`);
    }
  });
  const seconds = (Date.now() - started) / 1000;
  const connected = devices.length - failures;
  return { devices: connected, seconds, perSecond: connected / Math.max(seconds, 0.001), failures };
}

/**
 * Phase 2: every live connection drops at once, broker-side (`dropAllClients`, in-process) or by each device cutting
 * its socket, and each device reconnects after a short jitter.
 */
export async function reconnectStorm(
  live: readonly SimDevice[],
  context: {
    dropAllClients: (() => void) | undefined;
    timings: ReturnType<typeof scenarioTimings>;
    random: () => number;
    problems: string[];
    log: (line: string) => void;
  },
): Promise<'broker-drop' | 'client-drop'> {
  const { timings, random, problems, log } = context;
  let storm: 'broker-drop' | 'client-drop';
  if (context.dropAllClients) {
    storm = 'broker-drop';
    log(`storm: the broker drops all ${live.length} connections (SERVER_INITIATED_DISCONNECT)`);
    context.dropAllClients();
    await Promise.all(live.map((device) => device.waitClosed(10_000)));
  } else {
    storm = 'client-drop';
    log(`storm: all ${live.length} devices lose their connection at once`);
    for (const device of live) device.cutSocket();
  }
  const stormAt = Date.now();
  await Promise.all(
    live.map(async (device) => {
      device.client?.end(true);
      device.client = undefined;
      await sleep(stormAt + timings.shortMinMs / 2 + random() * timings.stormJitterMs - Date.now());
      try {
        await device.connect();
      } catch (error) {
        problems.push(`${device.id}: reconnect after the storm failed: ${(error as Error).message}`);
      }
    }),
  );
  log(`storm: ${live.length} devices reconnected within ${((Date.now() - stormAt) / 1000).toFixed(2)} s`);
  return storm;
}

/**
 * A fleet-wide outage: every live device loses its connection at once and comes back clearly after W. Each owes an
 * offline and an online alert; the fleet owes one fleet-outage and one fleet-recovered.
 */
export async function fleetOutage(
  live: readonly SimDevice[],
  context: { timings: ReturnType<typeof scenarioTimings>; problems: string[]; log: (line: string) => void },
): Promise<number> {
  const { timings, problems, log } = context;
  log(
    `fleet outage: all ${live.length} devices lose their connection for ${(timings.longMinMs / 1000).toFixed(0)} s`,
  );
  const cutAt = Date.now();
  for (const device of live) {
    device.cutSocket();
    device.expected.push({ type: 'offline', reason: 'CONNECTION_LOST', at: cutAt });
  }
  await sleep(cutAt + timings.longMinMs - Date.now());
  const backAt = Date.now();
  await Promise.all(
    live.map(async (device) => {
      try {
        await device.connect();
        device.expected.push({ type: 'online', at: backAt });
      } catch (error) {
        problems.push(`${device.id}: reconnect after the fleet outage failed: ${(error as Error).message}`);
        device.expectedStatus = 'disconnected';
      }
    }),
  );
  log(`fleet outage: ${live.length} devices back after ${((Date.now() - cutAt) / 1000).toFixed(1)} s`);
  return cutAt;
}
