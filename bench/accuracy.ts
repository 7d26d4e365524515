/**
 * The `accuracy` benchmark: generated fleets of every kind (test/fixtures/aws-model profiles) replayed through the
 * whole pipeline (replayTrace: the deployed handlers, reconciler and event sources on the in-memory ports), with and
 * without injected faults, scored against the oracle: share of devices with the true final state and connection,
 * alert precision and recall, duplicates, and alerts later than 10 s after the earliest allowed time.
 *
 * A faulted run strikes the in-memory ports where the fidelity path strikes the SDK clients (src/local/port-faults.ts):
 * DynamoDB calls retried as the SDK retries them, SNS publishes refused, invocations dying after their work. The
 * fidelity path's faults are tested on DynamoDB Local (test/integration/faults.test.ts).
 */
import { FaultInjector, STANDARD_FAULTS } from '../src/adapters/faults.js';
import type { InjectedFaultCounts } from '../src/local/port-faults.js';
import { replayTrace } from '../src/local/replay.js';
import { seededRandom } from '../src/shared/seeded-random.js';
import {
  expectedIncidents,
  FLEET_PROFILES,
  type FleetProfile,
  generateFleetTrace,
} from '../test/fixtures/aws-model/index.js';
import { type BenchOutcome, fmt, progress, round } from './support.js';

export interface AccuracySizes {
  devices: number;
  hours: number;
  profiles?: FleetProfile[];
}

const SLACK_MS = 10_000;

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
  /** Faulted runs: the faults that struck, by kind, and the SDK retries and failed calls they made. */
  injected?: InjectedFaultCounts;
  /** Faulted runs: invocations retried by Lambda or their event source, and events parked as dead letters. */
  retries?: number;
  deadLettered?: number;
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
    faults ? { faults: new FaultInjector(STANDARD_FAULTS, seededRandom(seed)), notice: () => undefined } : {},
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
    ...(result.faults
      ? { injected: result.faults, retries: result.retries, deadLettered: result.deadLettered }
      : {}),
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
  const scores: Score[] = [];
  for (const profile of profiles)
    for (const faults of [false, true]) scores.push(told(await scoreProfile(profile, sizes, faults)));
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
    figures: { devicesPerFleet: sizes.devices, hours: sizes.hours, faults: STANDARD_FAULTS, scores },
    summary: [
      ...scores.map(
        (s) =>
          `${s.profile}${s.faults ? ' +faults' : ''}: ${s.lines} lines, state ${fmt(s.stateAccuracy * 100, 1)}%, P ${s.precision} R ${s.recall}, dup ${s.duplicates}, late ${s.lateBeyond10s}, episodes ${s.episodeAlerts.received}/${s.episodeAlerts.expected}${s.episodesEqualToOracle ? '' : ' (NOT the oracle)'}, fleet outages ${s.fleetOutages.received}/${s.fleetOutages.expected}${s.injected ? struckSummary(s) : ''}`,
      ),
    ],
    ratio: round(worstState, 4),
    ratioMeaning: 'worst share of devices with their true final state and connection',
    budget:
      'every fleet exact: state 100%, offline/online precision = recall = 1, no duplicate, none later than 10 s without faults; episode and fleet alerts as their oracles say',
    pass: scores.every(exact),
    notes: [
      `faults: IOT_PRESENCE_FAULTS ${JSON.stringify(STANDARD_FAULTS)} at the in-memory ports; with faults an alert may be later (retries), never wrong`,
    ],
  };
}

/** What the faults of a run did: struck by kind, and what the retries made of them. */
function struckSummary(s: Score): string {
  const { struck, sdkRetries, failedCalls } = s.injected as InjectedFaultCounts;
  return `; struck: DynamoDB ${struck.dynamodb} (SDK retries ${sdkRetries}), SNS ${struck.sns}, crash ${struck.crash}; failed calls ${failedCalls}, invocation retries ${s.retries}, dead letters ${s.deadLettered}`;
}
