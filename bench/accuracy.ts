/**
 * The `accuracy` benchmark: generated fleets of every kind (test/fixtures/aws-model profiles) replayed through the
 * whole pipeline (replayTrace: DynamoDB Local, the emulator, the real handlers), with and without injected faults,
 * scored against the oracle: share of devices with the true final state and connection, alert precision and recall,
 * duplicates, and alerts later than 10 s after the earliest allowed time.
 *
 * A faulted run takes the fidelity path: a DynamoDB Local and an emulator of its own, and the runtime's requests one
 * after another, so that the process and the JVM take turns on one core. Each runs in a process of its own, as many
 * at once as the machine has cores; run directly (`accuracy.ts PROFILE DEVICES HOURS`), this file is that process and
 * prints the score as one JSON line.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { FaultInjector, type FaultRates } from '../src/adapters/faults.js';
import { quietForLocalRun } from '../src/adapters/observability.js';
import { replayTrace } from '../src/local/replay.js';
import { forEachWithLimit } from '../src/shared/concurrency.js';
import { seededRandom } from '../src/shared/seeded-random.js';
import {
  expectedIncidents,
  FLEET_PROFILES,
  type FleetProfile,
  generateFleetTrace,
} from '../test/fixtures/aws-model/index.js';
import { type BenchOutcome, figuresFromChildProcess, fmt, progress, round } from './support.js';

export interface AccuracySizes {
  devices: number;
  hours: number;
  profiles?: FleetProfile[];
}

const ISSUE_FAULTS: FaultRates = { dynamodb: 0.05, sns: 0.2, crash: 0.05 };
const SLACK_MS = 10_000;
/** Faulted runs at once: each keeps about one core busy (its process and its JVM take turns). */
const FAULTED_AT_ONCE = Math.max(1, Math.min(4, availableParallelism()));
const FAULTED_HEAP_MB = 1_024;

interface Score {
  profile: string;
  faults: boolean;
  lines: number;
  devices: number;
  stateAccuracy: number;
  alertsExpected: number;
  /** Offline and online alerts received, duplicates included. */
  alertsReceived: number;
  episodeAlerts: { expected: number; received: number };
  episodesEqualToOracle: boolean;
  fleetOutages: { expected: number; received: number };
  precision: number;
  recall: number;
  duplicates: number;
  lateBeyond10s: number;
  wallSeconds: number;
}

const connectionKey = (a: {
  type: string;
  deviceId: string;
  sessionIdentifier: unknown;
  versionNumber?: unknown;
}) => `${a.type}|${a.deviceId}|${a.sessionIdentifier}/${a.versionNumber}`;

const seedOf = (profile: FleetProfile) => 20_261_129 + Object.keys(FLEET_PROFILES).indexOf(profile);

const traceOf = (profile: FleetProfile, sizes: AccuracySizes) =>
  generateFleetTrace({ devices: sizes.devices, hours: sizes.hours, seed: seedOf(profile), profile });

async function scoreProfile(profile: FleetProfile, sizes: AccuracySizes, faults: boolean): Promise<Score> {
  const seed = seedOf(profile);
  const trace = traceOf(profile, sizes);
  const started = performance.now();
  const result = await replayTrace(
    trace.lines.map((line) => JSON.stringify(line)),
    faults ? { faults: new FaultInjector(ISSUE_FAULTS, seededRandom(seed)) } : {},
  );
  const wallSeconds = (performance.now() - started) / 1000;
  const actual = new Map(
    result.devices.map((d) => [d.deviceId, `${d.status} ${d.sessionIdentifier}/${d.versionNumber}`]),
  );
  const right = trace.expected.devices.filter(
    (d) => actual.get(d.deviceId) === `${d.status} ${d.sessionIdentifier}/${d.versionNumber}`,
  ).length;
  const expected = new Map(trace.expected.alerts.map((a) => [connectionKey(a), a.earliest]));
  const seen = new Set<string>();
  let duplicates = 0;
  let correct = 0;
  let late = 0;
  // Offline and online alerts against the oracle's, one by one; episode and fleet alerts against their own oracles.
  const ofType = (...types: string[]) => result.alerts.filter((alert) => types.includes(String(alert.type)));
  for (const alert of ofType('offline', 'online')) {
    const key = connectionKey(alert);
    if (seen.has(key)) {
      duplicates += 1;
      continue;
    }
    seen.add(key);
    const earliest = expected.get(key);
    if (earliest === undefined) continue;
    correct += 1;
    if (alert.publishedAt > earliest + SLACK_MS) late += 1;
  }
  const distinct = seen.size;
  const episodeKey = (alert: { type: unknown; deviceId: unknown }) => `${alert.type}|${alert.deviceId}`;
  const episodes = ofType('clientid-conflict', 'flapping').map(episodeKey).sort();
  const expectedEpisodes = trace.expected.episodes.map(episodeKey).sort();
  const incidents = expectedIncidents(trace.expected.alerts);
  return {
    profile,
    faults,
    lines: trace.lines.length,
    devices: trace.expected.devices.length,
    stateAccuracy: round(trace.expected.devices.length === 0 ? 1 : right / trace.expected.devices.length, 4),
    alertsExpected: expected.size,
    alertsReceived: distinct + duplicates,
    episodeAlerts: { expected: expectedEpisodes.length, received: episodes.length },
    episodesEqualToOracle: JSON.stringify(episodes) === JSON.stringify(expectedEpisodes),
    fleetOutages: { expected: incidents.length, received: ofType('fleet-outage').length },
    precision: round(distinct === 0 ? 1 : correct / distinct, 4),
    recall: round(expected.size === 0 ? 1 : correct / expected.size, 4),
    duplicates,
    lateBeyond10s: late,
    wallSeconds: round(wallSeconds, 1),
  };
}

export async function benchAccuracy(sizes: AccuracySizes): Promise<BenchOutcome> {
  const profiles = sizes.profiles ?? (Object.keys(FLEET_PROFILES) as FleetProfile[]);
  const told = (score: Score) => {
    progress(
      `accuracy: ${score.profile}${score.faults ? ' (faults)' : ''}: state ${fmt(score.stateAccuracy * 100, 1)}%, precision ${score.precision}, recall ${score.recall}`,
    );
    return score;
  };
  // The faulted runs in processes of their own, the longest traces first; the in-memory runs here meanwhile.
  const faulted = new Map<FleetProfile, Score>();
  const lines = new Map(profiles.map((profile) => [profile, traceOf(profile, sizes).lines.length]));
  const longestFirst = [...profiles].sort((a, b) => (lines.get(b) ?? 0) - (lines.get(a) ?? 0));
  const inProcesses = forEachWithLimit(longestFirst, FAULTED_AT_ONCE, async (profile) => {
    const args = [profile, String(sizes.devices), String(sizes.hours)];
    faulted.set(profile, told(await figuresFromChildProcess<Score>(import.meta.url, args, FAULTED_HEAP_MB)));
  });
  const inMemory = new Map<FleetProfile, Score>();
  for (const profile of profiles) inMemory.set(profile, told(await scoreProfile(profile, sizes, false)));
  const failures = await inProcesses;
  if (failures.length > 0) throw failures[0]?.error;
  const scores = profiles.flatMap((profile) => [inMemory.get(profile), faulted.get(profile)] as Score[]);
  const exact = (s: Score) =>
    s.stateAccuracy === 1 &&
    s.precision === 1 &&
    s.recall === 1 &&
    s.duplicates === 0 &&
    s.episodesEqualToOracle &&
    s.fleetOutages.received === s.fleetOutages.expected &&
    (s.faults || s.lateBeyond10s === 0);
  const worstState = Math.min(...scores.map((s) => s.stateAccuracy));
  return {
    figures: { devicesPerFleet: sizes.devices, hours: sizes.hours, faults: ISSUE_FAULTS, scores },
    summary: [
      ...scores.map(
        (s) =>
          `${s.profile}${s.faults ? ' +faults' : ''}: ${s.lines} lines, state ${fmt(s.stateAccuracy * 100, 1)}%, P ${s.precision} R ${s.recall}, dup ${s.duplicates}, late ${s.lateBeyond10s}, episodes ${s.episodeAlerts.received}/${s.episodeAlerts.expected}${s.episodesEqualToOracle ? '' : ' (NOT the oracle)'}, fleet outages ${s.fleetOutages.received}/${s.fleetOutages.expected}`,
      ),
    ],
    ratio: round(worstState, 4),
    ratioMeaning: 'worst share of devices with their true final state and connection',
    budget:
      'every fleet exact: state 100%, offline/online precision = recall = 1, no duplicate, none later than 10 s without faults; episode and fleet alerts as their oracles say',
    pass: scores.every(exact),
    notes: [
      `faults: IOT_PRESENCE_FAULTS ${JSON.stringify(ISSUE_FAULTS)}; with faults an alert may be later (retries), never wrong`,
    ],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  quietForLocalRun({ logLevel: 'ERROR' });
  const [profile, devices, hours] = process.argv.slice(2);
  const score = await scoreProfile(
    profile as FleetProfile,
    { devices: Number(devices), hours: Number(hours) },
    true,
  );
  process.stdout.write(`${JSON.stringify(score)}\n`);
}
