/**
 * A device's episodes from its steps (presence devices only: only presence tells takeovers and returns apart): the
 * ends that leave marks, the episodes that open, and the marks a later decision may need (episodes.ts).
 */
import type { AlertCursor, AlertDecision } from './alerts.js';
import { type ConnectionFacts, type ConnectionRef, refOf } from './connection.js';
import type { PresenceDisconnectReason } from './device-events.js';
import type { DeviceFacts } from './device-facts.js';
import {
  detectEpisodes,
  type EpisodeCursor,
  type EpisodeEvidence,
  type EpisodeKind,
  type EpisodeMark,
  flapMarks,
  keepMarks,
  markTime,
  median,
  mergeMarks,
  takeoverMarks,
} from './episodes.js';
import type { PresenceSettings } from './settings.js';
import type { Step } from './steps.js';

/** How long after its end a mark may still be learned: a first delivery retried, or a late rule invocation. */
const LATE_MARK_MS = 10 * 60_000;

const EPISODE_KINDS = ['clientid-conflict', 'flapping'] as const;

export interface DeviceEpisodes {
  alerts: AlertDecision[];
  cursor?: EpisodeCursor;
  marks?: DeviceFacts['marks'];
}

function episodeAlert(deviceId: string, evidence: EpisodeEvidence, steps: readonly Step[]): AlertDecision {
  const { kind, at, marks, windowMs } = evidence;
  const ended =
    steps.find((step) => step.connection.endSeenAt === at.at)?.connection ??
    (steps.at(-1)?.connection as ConnectionFacts);
  const reasons: Partial<Record<PresenceDisconnectReason, number>> = {};
  for (const mark of marks) reasons[mark.reason] = (reasons[mark.reason] ?? 0) + 1;
  const union = (pick: (mark: EpisodeMark) => string[] | undefined) =>
    [...new Set(marks.flatMap((mark) => pick(mark) ?? []))].sort();
  const common = {
    alertId: `${deviceId}/${kind}/${at.at}`,
    type: kind,
    deviceId,
    ...refOf(ended),
    since: markTime(at),
    earliestAt: markTime(at),
    count: marks.length,
    windowMs,
  };
  return kind === 'clientid-conflict'
    ? { ...common, principals: union((m) => m.principals), ipAddresses: union((m) => m.ipAddresses) }
    : { ...common, medianGapMs: median(marks.map((mark) => mark.gapMs ?? 0)), reasons };
}

/** How many connections a connection lies behind the cursor's, by versionNumber; undefined without versions. */
export function versionsBehind(at: ConnectionRef | undefined, connection: ConnectionRef): number | undefined {
  if (at?.versionNumber === undefined || connection.versionNumber === undefined) return undefined;
  return at.versionNumber - connection.versionNumber;
}

/**
 * The marks the steps leave. A connection before the cursor is back through a late delivery: a copy of an end the
 * record forgot (its first-seen time is the copy's, so it cannot tell a flap), or the first news of a connection
 * taken over before anything of it was seen. Such a takeover counts if fewer takeovers than the threshold lie
 * between it and the cursor: one counted before it was forgotten had at least that many newer marks kept beside
 * it; one still kept is recognised by its timestamp (mergeMarks).
 */
function derivedMarks(
  steps: readonly Step[],
  cursor: AlertCursor | undefined,
  settings: PresenceSettings,
): Record<EpisodeKind, EpisodeMark[]> {
  const minTakeovers = settings.episodes['clientid-conflict'].minCount;
  // One pass, no closures: every reconcile of a presence device derives its marks.
  const takeovers: Step[] = [];
  const flaps: Step[] = [];
  for (const step of steps) {
    if (step.position !== 'before') {
      takeovers.push(step);
      if (step.end !== undefined && step.fate.kind === 'passed') flaps.push(step);
      continue;
    }
    const behind = versionsBehind(cursor?.at, step.connection);
    if (behind !== undefined && behind > 0 && behind < minTakeovers) takeovers.push(step);
  }
  return { 'clientid-conflict': takeoverMarks(takeovers), flapping: flapMarks(flaps) };
}

/** Counts the marks, decides the episodes that open, and keeps the marks a later decision may need. */
export function decideEpisodes(
  facts: DeviceFacts,
  steps: readonly Step[],
  cursor: AlertCursor | undefined,
  now: number,
  settings: PresenceSettings,
): DeviceEpisodes {
  const episodeCursor = cursor?.episodes;
  if (!facts.presence) return { alerts: [], cursor: episodeCursor, marks: facts.marks };
  const derived = derivedMarks(steps, cursor, settings);
  const alerts: AlertDecision[] = [];
  const nextCursor: EpisodeCursor = { ...episodeCursor };
  const marks: NonNullable<DeviceFacts['marks']> = {};
  for (const kind of EPISODE_KINDS) {
    const kept = facts.marks?.[kind] ?? [];
    // Most devices have no mark of a kind: nothing to count, keep or open.
    if (kept.length === 0 && derived[kind].length === 0) continue;
    const rule = settings.episodes[kind];
    const all = mergeMarks(kept, derived[kind]);
    const { opened, lastMetAt } = detectEpisodes(kind, all, rule, episodeCursor?.[kind]);
    for (const evidence of opened) alerts.push(episodeAlert(facts.deviceId, evidence, steps));
    if (lastMetAt !== undefined) nextCursor[kind] = lastMetAt;
    const keep = keepMarks(all, rule, now, LATE_MARK_MS);
    if (keep.length > 0) marks[kind] = keep;
  }
  return {
    alerts,
    cursor: Object.keys(nextCursor).length > 0 ? nextCursor : undefined,
    marks: Object.keys(marks).length > 0 ? marks : undefined,
  };
}
