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
import type { IClientOptions } from 'mqtt';
import { seededRandom } from '../shared/seeded-random.js';
import {
  estimatedSeconds,
  pickKinds,
  planFor,
  SCENARIOS,
  type ScenarioKind,
  scenarioTimings,
} from './fleet/plan.js';
import {
  assertLoopback,
  connectFleet,
  fleetOutage,
  forEachLimited,
  playScenario,
  preflight,
  reconnectStorm,
  SimDevice,
} from './fleet/run.js';
import {
  compareDevice,
  formatDuration,
  getJson,
  listDeviceIds,
  printSummary,
  sleep,
  stats,
} from './fleet/verify.js';

export { SCENARIOS } from './fleet/plan.js';

export interface FleetSimulationOptions {
  mqttUrl: string;
  apiUrl: string;
  devices: number;
  /** Window (seconds) in which the scenarios play out. */
  durationSeconds: number;
  seed?: number;
  /** W the stack runs with; default: the W the stack reports on GET /health (a different one is refused). */
  settleWindowSeconds?: number;
  /** MQTT keepalive of the devices; the broker cuts a silent one after 1.5 x this. Default 10. */
  keepaliveSeconds?: number;
  /** Client ids are `<prefix><n>`; default `thing-<run tag>-`, unique per run. */
  prefix?: string;
  /** In-process only: the broker-side drop of every connection (IotCoreBroker.dropAllClients). */
  dropAllClients?: () => void;
  /** Whether to play the reconnect storm; default true. */
  storm?: boolean;
  /**
   * Whether to play a fleet-wide outage (every device down for longer than W at once); default: when the fleet has
   * at least the stack's FLEET_OUTAGE_MIN_DEVICES devices.
   */
  fleetOutage?: boolean;
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
  /** Devices taken down by the fleet-wide outage (0: not played). */
  fleetOutageDevices: number;
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

export async function runFleetSimulation(options: FleetSimulationOptions): Promise<FleetSimulationResult> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => console.log(line));
  assertLoopback(options.mqttUrl, 'the MQTT url');
  assertLoopback(options.apiUrl, 'the API url');
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  const settings = await preflight(options.mqttUrl, apiUrl, options.settleWindowSeconds);
  const settleWindowSeconds = settings.SETTLE_WINDOW_SECONDS;
  const seed = options.seed ?? 1;
  const random = seededRandom(seed);
  const keepaliveSeconds = options.keepaliveSeconds ?? 10;
  const timings = scenarioTimings(settleWindowSeconds, keepaliveSeconds, options.quick ?? false);
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
    `fleet: ${devices.length} devices (${prefix}1..${devices.length}), seed ${seed}, W ${settleWindowSeconds} s, ` +
      `keepalive ${keepaliveSeconds} s, scenarios over ${options.durationSeconds} s`,
  );
  log(`scenarios: ${SCENARIOS.map((kind) => `${kind} ${scenarios[kind]}`).join(', ')}`);
  log(
    `timings: flaps ${(timings.shortMinMs / 1000).toFixed(1)}-${(timings.shortMaxMs / 1000).toFixed(1)} s, ` +
      `outages ${(timings.longMinMs / 1000).toFixed(0)}-${((timings.longMinMs + timings.longExtraMs) / 1000).toFixed(0)} s, ` +
      `keep-alive detection <= ${(timings.detectMs / 1000).toFixed(1)} s`,
  );
  const minDevices = settings.FLEET_OUTAGE_MIN_DEVICES ?? Number.POSITIVE_INFINITY;
  const estimate = estimatedSeconds(
    devices.map((device) => device.plan),
    timings,
    marginMs,
    (options.storm ?? true) && devices.length > 0,
    options.fleetOutage ?? devices.length >= minDevices,
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
    const connecting = { sent: 0 };
    phase = () => `connecting the fleet: ${connecting.sent}/${devices.length} CONNECTs sent`;
    const connectResult = await connectFleet(
      devices,
      options.connectConcurrency ?? 100,
      connecting,
      problems,
    );
    log(
      `connected ${connectResult.devices}/${devices.length} devices in ${connectResult.seconds.toFixed(2)} s ` +
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
      storm = await reconnectStorm(live, {
        dropAllClients: options.dropAllClients,
        timings,
        random,
        problems,
        log,
      });
    }

    // 3. A fleet-wide outage, when the fleet is large enough to make an incident.
    let fleetOutageIds: string[] = [];
    let fleetOutageAt = 0;
    const live = devices.filter((device) => device.client);
    if (options.fleetOutage ?? live.length >= minDevices) {
      phase = () => `fleet-wide outage of ${live.length} devices`;
      fleetOutageAt = await fleetOutage(live, { timings, problems, log });
      fleetOutageIds = live.map((device) => device.id);
    }

    // 4. Scenarios.
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

    // 5. Compare.
    if (fleetOutageIds.length > 0) {
      problems.push(...(await checkFleetAlerts(apiUrl, fleetOutageAt, fleetOutageIds)));
    }
    const versionReset = (options.versionResetSeconds ?? 3600) * 1000;
    const reports: DeviceReport[] = [];
    const latencies: number[] = [];
    const pipelineLatencies: number[] = [];
    const alertTotals = { expected: 0, received: 0, missing: 0, unexpected: 0 };
    phase = () => `checking the API: ${reports.length}/${devices.length} devices compared`;
    await forEachLimited(devices, 16, async (device) => {
      const compared = await compareDevice(apiUrl, device, timings.w, versionReset);
      alertTotals.expected += compared.alerts.expected;
      alertTotals.received += compared.alerts.received;
      alertTotals.missing += compared.alerts.missing;
      alertTotals.unexpected += compared.alerts.unexpected;
      latencies.push(...compared.latencies);
      pipelineLatencies.push(...compared.pipelineLatencies);
      reports.push(compared.report);
    });
    reports.sort((a, b) => a.deviceId.localeCompare(b.deviceId, 'en', { numeric: true }));
    const devicesCorrect = reports.filter((report) => report.correct).length;
    const result: FleetSimulationResult = {
      ok: problems.length === 0 && devicesCorrect === devices.length,
      devices: devices.length,
      devicesCorrect,
      settleWindowSeconds,
      scenarios,
      storm,
      fleetOutageDevices: fleetOutageIds.length,
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

/**
 * What the fleet owes for the outage it played: its devices in one incident, announced once (`fleet-outage`) and
 * closed once (`fleet-recovered`) when the incident is theirs alone. The incident may be older than the cut: offline
 * alerts of other devices within the window before (an earlier run on the same stack) open it, and ours join it;
 * then it may stay open while those devices are away, and no fleet-recovered is owed yet.
 */
async function checkFleetAlerts(
  apiUrl: string,
  outageAt: number,
  deviceIds: readonly string[],
): Promise<string[]> {
  const label = `fleet outage of ${deviceIds.length} devices`;
  const { status, body } = await getJson<{ items?: Array<{ type: string; incidentId?: string }> }>(
    `${apiUrl}/alerts?deviceId=${encodeURIComponent('$fleet')}&limit=100`,
  );
  if (status !== 200) return [`GET /alerts?deviceId=$fleet answered ${status}`];
  const alerts = body.items ?? [];
  const ours = new Set(deviceIds);
  const holding: Array<{ incidentId: string; members: number; devices: number }> = [];
  for (const incidentId of new Set(alerts.map((alert) => alert.incidentId ?? ''))) {
    const incident = await incidentMembers(apiUrl, incidentId);
    const members = incident.memberIds.filter((deviceId) => ours.has(deviceId)).length;
    if (members > 0) holding.push({ incidentId, members, devices: incident.devices });
  }
  const [incident] = holding;
  if (!incident || holding.length > 1 || incident.members !== deviceIds.length) {
    const found = holding.map((h) => `${h.incidentId} holds ${h.members}`).join(', ') || 'none holds any';
    return [
      `${label}: one incident owed holding all of them, ${found} (outage at ${new Date(outageAt).toISOString()})`,
    ];
  }
  const count = (type: string) =>
    alerts.filter((alert) => alert.type === type && alert.incidentId === incident.incidentId).length;
  if (count('fleet-outage') !== 1) return [`${label}: ${count('fleet-outage')} fleet-outage alerts, 1 owed`];
  const recoveries = count('fleet-recovered');
  if (recoveries > 1 || (incident.devices === deviceIds.length && recoveries !== 1)) {
    return [`${label}: ${recoveries} fleet-recovered alerts, 1 owed`];
  }
  return [];
}

/** An incident's device count and every member's deviceId, read page by page. */
async function incidentMembers(
  apiUrl: string,
  incidentId: string,
): Promise<{ devices: number; memberIds: string[] }> {
  const memberIds: string[] = [];
  let devices = 0;
  let cursor: string | null | undefined;
  do {
    const page = await getJson<{
      devices?: number;
      deviceList?: { items?: Array<{ deviceId: string }>; cursor?: string | null };
    }>(
      `${apiUrl}/incidents/${encodeURIComponent(incidentId)}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    if (page.status !== 200) return { devices, memberIds };
    devices = page.body.devices ?? 0;
    memberIds.push(...(page.body.deviceList?.items ?? []).map((item) => item.deviceId));
    cursor = page.body.deviceList?.cursor;
  } while (cursor);
  return { devices, memberIds };
}
