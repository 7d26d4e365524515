/**
 * A fleet of real MQTT.js devices against the local stack's broker, driven by a seeded PRNG, and the check of
 * what the HTTP API then reports against what the simulator knows happened.
 *
 * Timeline of a run:
 *   1. every device connects (bounded concurrency): connect throughput; then until the API lists them all;
 *   2. a reconnect storm: a broker-side drop of every connection (in-process) or every device dropping its
 *      socket at once (over the network), each device reconnecting after a short jitter;
 *   3. each device plays one scenario, starting at a random moment of the run's duration;
 *   4. after the last action, a wait of W + 15 s (plus keep-alive detection), then the comparison.
 * At the end every device still connected disconnects cleanly, which raises no alert.
 */
import { createConnection } from 'node:net';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { seededRandom } from '../shared/seeded-random.js';

export const SCENARIOS = [
  'stable',
  'flap',
  'long-outage',
  'power-loss',
  'silent-death',
  'graceful',
  'takeover',
] as const;
export type ScenarioKind = (typeof SCENARIOS)[number];

/** How often each scenario is picked once every kind has been used once. */
const WEIGHTS: Record<ScenarioKind, number> = {
  stable: 30,
  flap: 16,
  'long-outage': 12,
  'power-loss': 10,
  'silent-death': 10,
  graceful: 10,
  takeover: 12,
};

export interface FleetSimulationOptions {
  mqttUrl: string;
  apiUrl: string;
  devices: number;
  /** Window (seconds) in which the scenarios play out. */
  durationSeconds: number;
  seed?: number;
  /** W the stack runs with. */
  settleWindowSeconds: number;
  /** MQTT keepalive of the devices; the broker cuts a silent one after 1.5 x this. Default 10. */
  keepaliveSeconds?: number;
  /** Client ids are `<prefix><n>`; default `thing-<run tag>-`, unique per run. */
  prefix?: string;
  /** In-process only: the broker-side drop of every connection (IotCoreBroker.dropAllClients). */
  dropAllClients?: () => void;
  /** Whether to play the reconnect storm; default true. */
  storm?: boolean;
  /** CONNECTs in flight at once while the fleet comes up; default 100. */
  connectConcurrency?: number;
  /** Wait after the last action, beyond W (seconds); default 15. */
  settleMarginSeconds?: number;
  /** The broker's versionNumber reset (seconds offline); versions are only checked below it. Default 3600. */
  versionResetSeconds?: number;
  /** Print one line per action (default: only when there are at most 50 devices). */
  verbose?: boolean;
  /**
   * Shorter outages (at most 5 s beyond W + 5 s): with a short duration, the run ends within about W + 60 s and still
   * plays every scenario kind.
   */
  quick?: boolean;
  /** Seconds between two progress lines; default 15. */
  progressEverySeconds?: number;
  log?: (line: string) => void;
}

export interface LatencyStats {
  count: number;
  minMs: number | null;
  medianMs: number | null;
  p95Ms: number | null;
  maxMs: number | null;
}

export interface DeviceReport {
  deviceId: string;
  scenario: ScenarioKind;
  correct: boolean;
  problems: string[];
}

export interface FleetSimulationResult {
  ok: boolean;
  devices: number;
  devicesCorrect: number;
  settleWindowSeconds: number;
  scenarios: Record<ScenarioKind, number>;
  storm: 'broker-drop' | 'client-drop' | 'none';
  alerts: { expected: number; received: number; missing: number; unexpected: number };
  /** The initial connect of the fleet: CONNACKs per second. */
  connect: { devices: number; seconds: number; perSecond: number; failures: number };
  /** From the first CONNECT until GET /devices?status=connected listed every device (null: never within the limit). */
  apiCaughtUpSeconds: number | null;
  /** Alert publishedAt - (moment the device was cut) - W. */
  alertLatencyBeyondW: LatencyStats;
  /** Alert publishedAt - (disconnect seen by the broker, the alert's `since`) - W: the pipeline's own delay. */
  alertPipelineLatencyBeyondW: LatencyStats;
  reports: DeviceReport[];
  problems: string[];
  elapsedSeconds: number;
}

interface ExpectedAlert {
  type: 'offline' | 'online';
  reason?: string;
  /** offline: when the device was cut; online: when it reconnected. */
  at: number;
}

interface Plan {
  kind: ScenarioKind;
  startMs: number;
  downMs: number;
  recover: boolean;
}

interface ApiDevice {
  deviceId: string;
  status: 'connected' | 'disconnected';
  disconnectReason: string | null;
  lastWill: unknown;
  versionNumber: number | null;
  sessionIdentifier: string;
}

interface ApiAlert {
  alertId: string;
  type: 'offline' | 'online';
  disconnectReason: string | null;
  since: string;
  publishedAt: string | null;
  status: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

export function willPayload(clientId: string) {
  return { state: { reported: { last_will: 'yes', trigger_action: 'on', client_id: clientId } } };
}

function stats(values: number[]): LatencyStats {
  if (values.length === 0) return { count: 0, minMs: null, medianMs: null, p95Ms: null, maxMs: null };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return {
    count: sorted.length,
    minMs: sorted[0] as number,
    medianMs: at(0.5),
    p95Ms: at(0.95),
    maxMs: sorted[sorted.length - 1] as number,
  };
}

/** Runs `task` over `items` with at most `limit` at once. */
async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  });
  await Promise.all(workers);
}

class HttpProblem extends Error {}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      return { status: response.status, body: (await response.json()) as T };
    } catch (error) {
      if (attempt >= 3) throw new HttpProblem(`GET ${url} failed: ${(error as Error).message}`);
      await sleep(250 * attempt);
    }
  }
}

interface DevicePage {
  items?: Array<{ deviceId: string }>;
  cursor?: string | null;
}

/** Every device GET /devices?status= lists, following cursors. */
export async function listDeviceIds(
  apiUrl: string,
  status: 'connected' | 'disconnected',
  maxPages = Number.POSITIVE_INFINITY,
): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  for (let pages = 0; pages < maxPages; pages += 1) {
    const query: URLSearchParams = new URLSearchParams({
      status,
      limit: '100',
      ...(cursor ? { cursor } : {}),
    });
    const page: { status: number; body: DevicePage } = await getJson<DevicePage>(
      `${apiUrl}/devices?${query}`,
    );
    const { status: code, body } = page;
    if (code !== 200) throw new HttpProblem(`GET /devices?status=${status} answered ${code}`);
    for (const item of body.items ?? []) ids.add(item.deviceId);
    cursor = body.cursor ?? null;
    if (!cursor) break;
  }
  return ids;
}

/** The stack's settings, from GET /health. */
export async function stackSettings(apiUrl: string): Promise<{ SETTLE_WINDOW_SECONDS: number }> {
  const { status, body } = await getJson<{ settings?: { SETTLE_WINDOW_SECONDS?: number } }>(
    `${apiUrl.replace(/\/+$/, '')}/health`,
  );
  const w = body.settings?.SETTLE_WINDOW_SECONDS;
  if (status !== 200 || typeof w !== 'number') {
    throw new Error(
      `GET ${apiUrl}/health answered ${status} without the stack's settings; is it an older stack?`,
    );
  }
  return { SETTLE_WINDOW_SECONDS: w };
}

/** Fails fast, with a hint, when the stack is not there or runs with another W. */
async function preflight(mqttUrl: string, apiUrl: string, settleWindowSeconds: number): Promise<void> {
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
  if (stack.SETTLE_WINDOW_SECONDS !== settleWindowSeconds) {
    throw new Error(
      `the stack at ${apiUrl} runs with W = ${stack.SETTLE_WINDOW_SECONDS} s (GET /health) and this simulation with ` +
        `W = ${settleWindowSeconds} s: every expected alert would be wrong. Run it with ` +
        `SETTLE_WINDOW_SECONDS=${stack.SETTLE_WINDOW_SECONDS}.`,
    );
  }
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

class SimDevice {
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

function pickKinds(count: number, random: () => number): ScenarioKind[] {
  const kinds: ScenarioKind[] = [];
  // Every kind at least once when the fleet is big enough, the rest by weight.
  if (count >= SCENARIOS.length) kinds.push(...SCENARIOS);
  const total = Object.values(WEIGHTS).reduce((sum, weight) => sum + weight, 0);
  while (kinds.length < count) {
    let roll = random() * total;
    let kind: ScenarioKind = 'stable';
    for (const candidate of SCENARIOS) {
      roll -= WEIGHTS[candidate];
      if (roll < 0) {
        kind = candidate;
        break;
      }
    }
    kinds.push(kind);
  }
  // Shuffle (Fisher-Yates) so the guaranteed kinds are not always the first devices.
  for (let i = kinds.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j] as ScenarioKind, kinds[i] as ScenarioKind];
  }
  return kinds;
}

/** Durations that are clearly shorter or longer than W, with margins for timing jitter and detection. */
export function scenarioTimings(settleWindowSeconds: number, keepaliveSeconds: number, quick = false) {
  const w = settleWindowSeconds * 1000;
  const detectMs = Math.ceil(1.5 * keepaliveSeconds * 1000);
  // Short: at least 5 s below W when W allows it, otherwise within the first quarter of W.
  const shortMaxMs = Math.min(30_000, w >= 10_000 ? w - 5_000 : w / 4);
  const shortMinMs = Math.min(200, shortMaxMs / 2);
  // Long: at least 5 s beyond W (after the broker noticed the drop).
  const longMinMs = w + 5_000;
  const longExtraMs = Math.min(quick ? 5_000 : 20_000, w / 2);
  const stormJitterMs = Math.min(3_000, shortMaxMs);
  return { w, detectMs, shortMinMs, shortMaxMs, longMinMs, longExtraMs, stormJitterMs };
}

function planFor(
  kind: ScenarioKind,
  random: () => number,
  windowMs: number,
  timings: ReturnType<typeof scenarioTimings>,
): Plan {
  const between = (min: number, max: number) => Math.round(min + random() * Math.max(0, max - min));
  let downMs = 0;
  let recover = false;
  let lengthMs = 0;
  switch (kind) {
    case 'flap':
      downMs = between(timings.shortMinMs, timings.shortMaxMs);
      recover = true;
      lengthMs = downMs;
      break;
    case 'long-outage':
      downMs = between(timings.longMinMs, timings.longMinMs + timings.longExtraMs);
      recover = true;
      lengthMs = downMs;
      break;
    case 'silent-death':
      // Half of them come back once the outage clearly outlasted W.
      recover = random() < 0.5;
      downMs = recover
        ? timings.detectMs + 1_000 + between(timings.longMinMs, timings.longMinMs + timings.longExtraMs)
        : 0;
      lengthMs = recover ? downMs : timings.detectMs;
      break;
    default:
      break;
  }
  return { kind, downMs, recover, startMs: between(0, windowMs - lengthMs) };
}

/** Pairs expected and received alerts in order; a received alert pairs with at most one expected one. */
function matchAlerts(expected: ExpectedAlert[], received: ApiAlert[]) {
  const pairs: Array<{ expected: ExpectedAlert; received: ApiAlert }> = [];
  const missing: ExpectedAlert[] = [];
  let from = 0;
  for (const want of expected) {
    const index = received.findIndex(
      (alert, i) =>
        i >= from &&
        alert.type === want.type &&
        (want.reason === undefined || alert.disconnectReason === want.reason),
    );
    if (index < 0) {
      missing.push(want);
      continue;
    }
    pairs.push({ expected: want, received: received[index] as ApiAlert });
    from = index + 1;
  }
  const paired = new Set(pairs.map((pair) => pair.received));
  const unexpected = received.filter((alert) => !paired.has(alert));
  return { pairs, missing, unexpected };
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * When a plan's outcome is due, from the start of the scenario phase: a device that stays down owes its offline
 * alert W after the drop was seen; one that comes back owes its online alert within seconds of its return.
 */
function plannedSettleMs(plan: Plan, timings: ReturnType<typeof scenarioTimings>, marginMs: number): number {
  switch (plan.kind) {
    case 'power-loss':
      return plan.startMs + timings.w + marginMs;
    case 'silent-death':
      return plan.recover
        ? plan.startMs + plan.downMs + marginMs
        : plan.startMs + timings.detectMs + timings.w + marginMs;
    case 'flap':
    case 'long-outage':
      return plan.startMs + plan.downMs + marginMs;
    default:
      return plan.startMs;
  }
}

/** A forecast of the whole run, in seconds: bring-up, storm, the scenarios and their outcomes, the check. */
export function estimatedSeconds(
  plans: readonly Plan[],
  timings: ReturnType<typeof scenarioTimings>,
  marginMs: number,
  storm: boolean,
): number {
  const bringUpS = 2 + plans.length / 200;
  const stormS = storm ? 2 + (timings.shortMinMs / 2 + timings.stormJitterMs) / 1000 : 0;
  const scenariosS = 1 + Math.max(0, ...plans.map((plan) => plannedSettleMs(plan, timings, marginMs))) / 1000;
  const checkS = 1 + plans.length / 50;
  return Math.ceil(bringUpS + stormS + scenariosS + checkS);
}

export async function runFleetSimulation(options: FleetSimulationOptions): Promise<FleetSimulationResult> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => console.log(line));
  assertLoopback(options.mqttUrl, 'the MQTT url');
  assertLoopback(options.apiUrl, 'the API url');
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  await preflight(options.mqttUrl, apiUrl, options.settleWindowSeconds);
  const seed = options.seed ?? 1;
  const random = seededRandom(seed);
  const keepaliveSeconds = options.keepaliveSeconds ?? 10;
  const timings = scenarioTimings(options.settleWindowSeconds, keepaliveSeconds, options.quick ?? false);
  const marginMs = (options.settleMarginSeconds ?? 15) * 1000;
  const windowMs = options.durationSeconds * 1000;
  const prefix = options.prefix ?? `thing-${Date.now().toString(36).slice(-5)}-`;
  const verbose = options.verbose ?? options.devices <= 50;
  const note = verbose ? log : () => undefined;
  const problems: string[] = [];

  const base: IClientOptions = {
    protocolVersion: 4,
    clean: true,
    keepalive: keepaliveSeconds,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
  };
  const kinds = pickKinds(options.devices, random);
  const devices = kinds.map(
    (kind, index) =>
      new SimDevice(
        `${prefix}${index + 1}`,
        planFor(kind, random, windowMs, timings),
        base,
        options.mqttUrl,
        note,
      ),
  );
  const scenarios = Object.fromEntries(SCENARIOS.map((kind) => [kind, 0])) as Record<ScenarioKind, number>;
  for (const device of devices) scenarios[device.plan.kind] += 1;
  log(
    `fleet: ${devices.length} devices (${prefix}1..${devices.length}), seed ${seed}, W ${options.settleWindowSeconds} s, ` +
      `keepalive ${keepaliveSeconds} s, scenarios over ${options.durationSeconds} s`,
  );
  log(`scenarios: ${SCENARIOS.map((kind) => `${kind} ${scenarios[kind]}`).join(', ')}`);
  log(
    `timings: flaps ${(timings.shortMinMs / 1000).toFixed(1)}-${(timings.shortMaxMs / 1000).toFixed(1)} s, ` +
      `outages ${(timings.longMinMs / 1000).toFixed(0)}-${((timings.longMinMs + timings.longExtraMs) / 1000).toFixed(0)} s, ` +
      `keep-alive detection <= ${(timings.detectMs / 1000).toFixed(1)} s`,
  );
  const estimate = estimatedSeconds(
    devices.map((device) => device.plan),
    timings,
    marginMs,
    (options.storm ?? true) && devices.length > 0,
  );
  log(
    `estimated duration: about ${formatDuration(estimate)} (ends around ${new Date(started + estimate * 1000).toISOString().slice(11, 19)} UTC); ` +
      `a progress line every ${options.progressEverySeconds ?? 15} s`,
  );
  let phase = () => 'starting';
  const progress = setInterval(
    () => {
      const elapsed = (Date.now() - started) / 1000;
      log(`progress: ${formatDuration(elapsed)} elapsed of about ${formatDuration(estimate)}; ${phase()}`);
    },
    (options.progressEverySeconds ?? 15) * 1000,
  );
  progress.unref();

  try {
    // 1. The fleet comes up.
    const connectStarted = Date.now();
    let failures = 0;
    let connecting = 0;
    phase = () => `connecting the fleet: ${connecting}/${devices.length} CONNECTs sent`;
    await forEachLimited(devices, options.connectConcurrency ?? 100, async (device) => {
      connecting += 1;
      try {
        await device.connect();
      } catch (error) {
        failures += 1;
        problems.push(`${device.id}: initial connect failed: ${(error as Error).message}`);
      }
    });
    const connectSeconds = (Date.now() - connectStarted) / 1000;
    const connected = devices.length - failures;
    const connectResult = {
      devices: connected,
      seconds: connectSeconds,
      perSecond: connected / Math.max(connectSeconds, 0.001),
      failures,
    };
    log(
      `connected ${connected}/${devices.length} devices in ${connectSeconds.toFixed(2)} s ` +
        `(${connectResult.perSecond.toFixed(0)} devices/s)`,
    );
    const ids = devices.map((device) => device.id);
    let apiCaughtUpSeconds: number | null = null;
    phase = () => 'waiting for GET /devices?status=connected to list the whole fleet';
    const caughtUpDeadline = Date.now() + Math.max(60_000, devices.length * 60);
    for (;;) {
      const listed = await listDeviceIds(apiUrl, 'connected');
      const missing = ids.filter((id) => !listed.has(id)).length;
      if (missing === 0) {
        apiCaughtUpSeconds = (Date.now() - connectStarted) / 1000;
        break;
      }
      if (Date.now() > caughtUpDeadline) {
        problems.push(
          `GET /devices?status=connected still lacked ${missing} devices after ${((Date.now() - connectStarted) / 1000).toFixed(0)} s`,
        );
        break;
      }
      await sleep(250);
    }
    if (apiCaughtUpSeconds !== null) {
      log(
        `GET /devices?status=connected listed all ${ids.length} devices ${apiCaughtUpSeconds.toFixed(2)} s after the first CONNECT`,
      );
    }

    // 2. Reconnect storm.
    let storm: FleetSimulationResult['storm'] = 'none';
    if ((options.storm ?? true) && devices.length > 0) {
      const live = devices.filter((device) => device.client);
      phase = () => `reconnect storm of ${live.length} devices`;
      if (options.dropAllClients) {
        storm = 'broker-drop';
        log(`storm: the broker drops all ${live.length} connections (SERVER_INITIATED_DISCONNECT)`);
        options.dropAllClients();
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
    }

    // 3. Scenarios.
    const phaseStart = Date.now() + 1_000;
    log(`scenarios start; the last action is due within ${options.durationSeconds} s`);
    phase = () => {
      const done = devices.filter((device) => device.done).length;
      return `scenarios: ${done}/${devices.length} devices have played theirs`;
    };
    await Promise.all(
      devices.map(async (device) => {
        await playScenario(device, phaseStart, timings, problems, marginMs);
        device.done = true;
      }),
    );
    // Each device's outcome is due at its own time: W after a drop that lasts, seconds after a return.
    const settledBy = Math.max(...devices.map((device) => device.settledBy), Date.now());
    const waitMs = settledBy - Date.now();
    log(
      `all actions done; waiting ${(waitMs / 1000).toFixed(0)} s for every outcome to be due (W + margin after the last drop that lasts)`,
    );
    phase = () =>
      `waiting for the outcomes: ${Math.max(0, (settledBy - Date.now()) / 1000).toFixed(0)} s left`;
    await sleep(waitMs);

    // 4. Compare.
    const versionReset = (options.versionResetSeconds ?? 3600) * 1000;
    const reports: DeviceReport[] = [];
    const latencies: number[] = [];
    const pipelineLatencies: number[] = [];
    const alertTotals = { expected: 0, received: 0, missing: 0, unexpected: 0 };
    phase = () => `checking the API: ${reports.length}/${devices.length} devices compared`;
    await forEachLimited(devices, 16, async (device) => {
      const deviceProblems: string[] = [];
      const id = encodeURIComponent(device.id);
      const { status, body: view } = await getJson<ApiDevice>(`${apiUrl}/devices/${id}`);
      if (status !== 200) {
        deviceProblems.push(`GET /devices/${device.id} answered ${status}`);
      } else {
        if (view.status !== device.expectedStatus) {
          deviceProblems.push(`status ${view.status}, expected ${device.expectedStatus}`);
        }
        if (device.expectedStatus === 'disconnected' && view.disconnectReason !== device.expectedReason) {
          deviceProblems.push(`disconnectReason ${view.disconnectReason}, expected ${device.expectedReason}`);
        }
        if (device.expectedStatus === 'disconnected') {
          const will = device.expectWill ? willPayload(device.id) : null;
          if (!sameJson(view.lastWill, will)) {
            deviceProblems.push(
              `lastWill ${JSON.stringify(view.lastWill)}, expected ${JSON.stringify(will)}`,
            );
          }
        }
        if (device.longestOutageMs < versionReset && view.versionNumber !== device.connects - 1) {
          deviceProblems.push(
            `versionNumber ${view.versionNumber}, expected ${device.connects - 1} (${device.connects} sessions)`,
          );
        }
      }
      const { status: alertStatus, body: alertBody } = await getJson<{ items?: ApiAlert[] }>(
        `${apiUrl}/alerts?deviceId=${id}&limit=100`,
      );
      if (alertStatus !== 200)
        deviceProblems.push(`GET /alerts?deviceId=${device.id} answered ${alertStatus}`);
      const ledger = [...(alertBody.items ?? [])].reverse();
      const unpublished = ledger.filter((alert) => alert.status !== 'sent' || alert.publishedAt === null);
      for (const alert of unpublished)
        deviceProblems.push(`alert ${alert.alertId} decided but not published`);
      const received = ledger.filter((alert) => !unpublished.includes(alert));
      const { pairs, missing, unexpected } = matchAlerts(device.expected, received);
      alertTotals.expected += device.expected.length;
      alertTotals.received += received.length;
      alertTotals.missing += missing.length;
      alertTotals.unexpected += unexpected.length;
      for (const want of missing) {
        deviceProblems.push(`missing ${want.type} alert${want.reason ? ` (${want.reason})` : ''}`);
      }
      for (const alert of unexpected) {
        deviceProblems.push(
          `unexpected ${alert.type} alert (${alert.disconnectReason ?? '-'}) since ${alert.since}`,
        );
      }
      for (const { expected, received: alert } of pairs) {
        if (expected.type !== 'offline' || !alert.publishedAt) continue;
        latencies.push(Date.parse(alert.publishedAt) - expected.at - timings.w);
        pipelineLatencies.push(Date.parse(alert.publishedAt) - Date.parse(alert.since) - timings.w);
      }
      reports.push({
        deviceId: device.id,
        scenario: device.plan.kind,
        correct: deviceProblems.length === 0,
        problems: deviceProblems,
      });
    });
    reports.sort((a, b) => a.deviceId.localeCompare(b.deviceId, 'en', { numeric: true }));
    const devicesCorrect = reports.filter((report) => report.correct).length;
    const result: FleetSimulationResult = {
      ok: problems.length === 0 && devicesCorrect === devices.length,
      devices: devices.length,
      devicesCorrect,
      settleWindowSeconds: options.settleWindowSeconds,
      scenarios,
      storm,
      alerts: alertTotals,
      connect: connectResult,
      apiCaughtUpSeconds,
      alertLatencyBeyondW: stats(latencies),
      alertPipelineLatencyBeyondW: stats(pipelineLatencies),
      reports,
      problems,
      elapsedSeconds: (Date.now() - started) / 1000,
    };
    clearInterval(progress);
    printSummary(result, log);
    return result;
  } finally {
    clearInterval(progress);
    await Promise.all(devices.map((device) => device.shutdown()));
  }
}

async function playScenario(
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
  }
}

function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
}

function formatLatency(stats: LatencyStats): string {
  if (stats.count === 0) return 'n/a (no offline alerts)';
  const s = (ms: number | null) => `${((ms ?? 0) / 1000).toFixed(2)} s`;
  return `median ${s(stats.medianMs)}, p95 ${s(stats.p95Ms)}, min ${s(stats.minMs)}, max ${s(stats.maxMs)} (${stats.count} alerts)`;
}

export function printSummary(result: FleetSimulationResult, log: (line: string) => void): void {
  const wrong = result.reports.filter((report) => !report.correct);
  for (const report of wrong.slice(0, 25)) {
    log(`  WRONG ${report.deviceId} [${report.scenario}]: ${report.problems.join('; ')}`);
  }
  if (wrong.length > 25) log(`  ... and ${wrong.length - 25} more devices`);
  for (const problem of result.problems.slice(0, 25)) log(`  PROBLEM ${problem}`);
  log('--- summary ---');
  log(`devices correct: ${result.devicesCorrect}/${result.devices}`);
  log(
    `alerts: expected ${result.alerts.expected}, received ${result.alerts.received}, ` +
      `missing ${result.alerts.missing}, unexpected ${result.alerts.unexpected}`,
  );
  log(
    `connect throughput: ${result.connect.perSecond.toFixed(0)} devices/s ` +
      `(${result.connect.devices} in ${result.connect.seconds.toFixed(2)} s, ${result.connect.failures} failed)`,
  );
  log(
    `API caught up: ${result.apiCaughtUpSeconds === null ? 'NO' : `${result.apiCaughtUpSeconds.toFixed(2)} s`} ` +
      'after the first CONNECT (all listed by GET /devices?status=connected)',
  );
  log(`alert latency beyond W (from the cut): ${formatLatency(result.alertLatencyBeyondW)}`);
  log(
    `alert latency beyond W (from the broker-seen disconnect): ${formatLatency(result.alertPipelineLatencyBeyondW)}`,
  );
  log(`result: ${result.ok ? 'OK' : 'MISMATCH'} in ${result.elapsedSeconds.toFixed(0)} s`);
}
