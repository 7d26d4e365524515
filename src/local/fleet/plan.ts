/** The fleet's plan: which scenario each device plays, when, and what outcome the plan owes. */
export const SCENARIOS = [
  'stable',
  'flap',
  'long-outage',
  'power-loss',
  'silent-death',
  'graceful',
  'takeover',
  'clientid-fight',
  'flapping',
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
  'clientid-fight': 4,
  flapping: 4,
};

/** clientid-fight: a second instance takes the clientId this many times (the conflict threshold, 3). */
export const FIGHT_TAKEOVERS = 3;
/** flapping: the device drops and is back within W this many times (the flapping threshold, 6). */
export const FLAPPING_DROPS = 6;

export interface ExpectedAlert {
  type: 'offline' | 'online' | 'clientid-conflict' | 'flapping';
  reason?: string;
  /** offline: when the device was cut; online: when it reconnected. */
  at: number;
}

export interface Plan {
  kind: ScenarioKind;
  startMs: number;
  downMs: number;
  recover: boolean;
}

export function willPayload(clientId: string) {
  return { state: { reported: { last_will: 'yes', trigger_action: 'on', client_id: clientId } } };
}

export function pickKinds(count: number, random: () => number): ScenarioKind[] {
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

export function planFor(
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
    case 'flapping':
      downMs = between(timings.shortMinMs, timings.shortMaxMs);
      recover = true;
      // Each drop, then the reconnect (about a second on loopback).
      lengthMs = FLAPPING_DROPS * (downMs + 1_000);
      break;
    case 'clientid-fight':
      lengthMs = FIGHT_TAKEOVERS * 1_000;
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
    case 'flapping':
      return plan.startMs + FLAPPING_DROPS * (plan.downMs + 1_000) + marginMs;
    case 'clientid-fight':
      return plan.startMs + FIGHT_TAKEOVERS * 1_000 + marginMs;
    default:
      return plan.startMs;
  }
}

/**
 * A forecast of the whole run, in seconds: bring-up, storm, the fleet-wide outage (every device down W + 5 s, then
 * back), the scenarios and their outcomes, the check.
 */
export function estimatedSeconds(
  plans: readonly Plan[],
  timings: ReturnType<typeof scenarioTimings>,
  marginMs: number,
  storm: boolean,
  fleetOutage = false,
): number {
  const bringUpS = 2 + plans.length / 200;
  const stormS = storm ? 2 + (timings.shortMinMs / 2 + timings.stormJitterMs) / 1000 : 0;
  const fleetOutageS = fleetOutage ? timings.longMinMs / 1000 + 1 + plans.length / 100 : 0;
  const scenariosS = 1 + Math.max(0, ...plans.map((plan) => plannedSettleMs(plan, timings, marginMs))) / 1000;
  const checkS = 1 + plans.length / 50;
  return Math.ceil(bringUpS + stormS + fleetOutageS + scenariosS + checkS);
}
