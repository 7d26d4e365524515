/** What the HTTP API reports, read and compared with what the simulator knows happened. */
import type { DeviceReport, FleetSimulationResult, LatencyStats } from '../fleet-simulator.js';
import type { ExpectedAlert } from './plan.js';
import { willPayload } from './plan.js';
import type { SimDevice } from './run.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
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

export function stats(values: number[]): LatencyStats {
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
class HttpProblem extends Error {}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
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
export async function stackSettings(
  apiUrl: string,
): Promise<{ SETTLE_WINDOW_SECONDS: number; FLEET_OUTAGE_MIN_DEVICES?: number }> {
  const { status, body } = await getJson<{
    settings?: { SETTLE_WINDOW_SECONDS?: number; FLEET_OUTAGE_MIN_DEVICES?: number };
  }>(`${apiUrl.replace(/\/+$/, '')}/health`);
  const w = body.settings?.SETTLE_WINDOW_SECONDS;
  if (status !== 200 || typeof w !== 'number') {
    throw new Error(
      `GET ${apiUrl}/health answered ${status} without the stack's settings; is it an older stack?`,
    );
  }
  const minDevices = body.settings?.FLEET_OUTAGE_MIN_DEVICES;
  return {
    SETTLE_WINDOW_SECONDS: w,
    ...(typeof minDevices === 'number' ? { FLEET_OUTAGE_MIN_DEVICES: minDevices } : {}),
  };
}

/** Fails fast, with a hint, when the stack is not there or runs with another W. */
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

export function formatDuration(seconds: number): string {
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

/**
 * One device's comparison: its state, reason, will and version number as the API reports them against what the
 * simulator knows happened, and its alerts against the alerts its plan owes (with how late each offline alert was).
 */
export async function compareDevice(
  apiUrl: string,
  device: SimDevice,
  w: number,
  versionReset: number,
): Promise<{
  report: DeviceReport;
  alerts: { expected: number; received: number; missing: number; unexpected: number };
  latencies: number[];
  pipelineLatencies: number[];
}> {
  const latencies: number[] = [];
  const pipelineLatencies: number[] = [];
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
        deviceProblems.push(`lastWill ${JSON.stringify(view.lastWill)}, expected ${JSON.stringify(will)}`);
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
  if (alertStatus !== 200) deviceProblems.push(`GET /alerts?deviceId=${device.id} answered ${alertStatus}`);
  const ledger = [...(alertBody.items ?? [])].reverse();
  const unpublished = ledger.filter((alert) => alert.status !== 'sent' || alert.publishedAt === null);
  for (const alert of unpublished) deviceProblems.push(`alert ${alert.alertId} decided but not published`);
  const received = ledger.filter((alert) => !unpublished.includes(alert));
  const { pairs, missing, unexpected } = matchAlerts(device.expected, received);
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
    latencies.push(Date.parse(alert.publishedAt) - expected.at - w);
    pipelineLatencies.push(Date.parse(alert.publishedAt) - Date.parse(alert.since) - w);
  }
  return {
    report: {
      deviceId: device.id,
      scenario: device.plan.kind,
      correct: deviceProblems.length === 0,
      problems: deviceProblems,
    },
    alerts: {
      expected: device.expected.length,
      received: received.length,
      missing: missing.length,
      unexpected: unexpected.length,
    },
    latencies,
    pipelineLatencies,
  };
}
