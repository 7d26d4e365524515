/**
 * Episodes: a device that keeps doing something bad, counted over a sliding window. Two kinds share one rule:
 *   clientid-conflict  connections ended by DUPLICATE_CLIENTID (two devices taking one clientId from each other)
 *   flapping           abrupt ends where the device was back within W (so no offline alert was owed)
 * Each such end leaves a mark, counted from the moment it is known: a takeover when its end is first seen, a flap
 * when the device is seen back. The rule is met at a mark when at least `minCount` marks lie in the window that
 * ends there. Marks are known in time order, so the record only keeps the newest `minCount`. The first time it is met opens an episode and owes one alert; the
 * episode goes on while the rule keeps being met within a window of its last time, and only a whole window
 * without it lets a new episode alert again. Decisions are final: a mark learned late never re-opens the past.
 */
import { type ConnectionFacts, firstSeenAt } from './connection.js';
import type { PresenceDisconnectReason } from './device-events.js';

export type EpisodeKind = 'clientid-conflict' | 'flapping';

export interface EpisodeRule {
  minCount: number;
  windowMs: number;
}

/**
 * One end that counts towards an episode. It is named by AWS's timestamp of the end, which every copy of the
 * disconnected event repeats, so a mark is counted once however often its end is delivered, even after the record
 * forgot the connection, and the record need not keep the connection's name.
 */
export interface EpisodeMark {
  /** AWS's timestamp of the end: with `version`, its identity (every copy of the end repeats both). */
  endedAt: number;
  /**
   * The ended connection's versionNumber: two ends may share an approximate timestamp. Absent in marks kept before it
   * was part of their identity (such a mark is the same end as any mark with its timestamp).
   */
  version?: number;
  /** When its end was first seen. */
  at: number;
  reason: PresenceDisconnectReason;
  /** flapping: how long the device was away (first seen of the end to first seen of the next connection). */
  gapMs?: number;
  /** clientid-conflict: who held the ended connection, and who took it. */
  principals?: string[];
  ipAddresses?: string[];
}

/** What an episode alert tells. */
export interface EpisodeEvidence {
  kind: EpisodeKind;
  /** The mark at which the rule was first met. */
  at: EpisodeMark;
  /** The marks in the window that ends there (at least minCount). */
  marks: EpisodeMark[];
  windowMs: number;
}

/** The last time the rule was met in the latest alerted episode of each kind. */
export type EpisodeCursor = Partial<Record<EpisodeKind, number>>;

/** When a mark counts: once it is known (a flap once the device is back). */
export const markTime = (mark: EpisodeMark) => mark.at + (mark.gapMs ?? 0);

const byTime = (a: EpisodeMark, b: EpisodeMark) => markTime(a) - markTime(b) || a.at - b.at;

/** The marks in time order: as given when they already are (mergeMarks's are), else a sorted copy. */
function inTimeOrder(marks: readonly EpisodeMark[]): readonly EpisodeMark[] {
  for (let index = 1; index < marks.length; index += 1)
    if (byTime(marks[index - 1] as EpisodeMark, marks[index] as EpisodeMark) > 0)
      return [...marks].sort(byTime);
  return marks;
}

/**
 * Merges newly derived marks into the kept ones: one per end. What is derived now is the fresher evidence; the
 * time kept is the earliest (a copy of a forgotten connection's end is first seen again, later).
 */
export function mergeMarks(kept: readonly EpisodeMark[], derived: readonly EpisodeMark[]): EpisodeMark[] {
  const merged = [...kept];
  for (const mark of derived) {
    const index = merged.findIndex((known) => sameEnd(known, mark));
    const known = merged[index];
    const fresher =
      known && markTime(known) < markTime(mark) ? { ...mark, at: known.at, gapMs: known.gapMs } : mark;
    if (index === -1) merged.push(fresher);
    else merged[index] = fresher;
  }
  return merged.sort(byTime);
}

function sameEnd(a: EpisodeMark, b: EpisodeMark): boolean {
  return (
    a.endedAt === b.endedAt && (a.version === undefined || b.version === undefined || a.version === b.version)
  );
}

/** How many of the marks up to `index` count from `from` on. */
function marksInWindow(sorted: readonly EpisodeMark[], index: number, from: number): number {
  let count = 0;
  for (let other = 0; other <= index; other += 1)
    if (markTime(sorted[other] as EpisodeMark) >= from) count += 1;
  return count;
}

/**
 * Walks the marks in time order and decides which episodes open. Returns the alerts owed (one per new episode)
 * and the cursor after them.
 */
export function detectEpisodes(
  kind: EpisodeKind,
  marks: readonly EpisodeMark[],
  rule: EpisodeRule,
  lastMetAt: number | undefined,
): { opened: EpisodeEvidence[]; lastMetAt: number | undefined } {
  const sorted = inTimeOrder(marks);
  const opened: EpisodeEvidence[] = [];
  let last = lastMetAt;
  for (let index = 0; index < sorted.length; index += 1) {
    const time = markTime(sorted[index] as EpisodeMark);
    if (last !== undefined && time <= last) continue;
    // Counted before any array is made: every reconcile asks, and the rule is rarely met.
    if (marksInWindow(sorted, index, time - rule.windowMs) < rule.minCount) continue;
    if (last === undefined || time - last > rule.windowMs) {
      const inWindow = sorted.slice(0, index + 1).filter((m) => markTime(m) >= time - rule.windowMs);
      opened.push({ kind, at: sorted[index] as EpisodeMark, marks: inWindow, windowMs: rule.windowMs });
    }
    last = time;
  }
  return { opened, lastMetAt: last };
}

/**
 * The kinds of episode going on at `now` (the rule was met less than a window ago: a new episode would need a whole
 * window without it), and when the first of them ends.
 */
export function activeEpisodes(
  cursor: EpisodeCursor | undefined,
  now: number,
  rules: Record<EpisodeKind, EpisodeRule>,
): { kinds: EpisodeKind[]; endsAt?: number } {
  const kinds: EpisodeKind[] = [];
  let endsAt: number | undefined;
  for (const kind of ['clientid-conflict', 'flapping'] as const) {
    const lastMet = cursor?.[kind];
    if (lastMet === undefined || now > lastMet + rules[kind].windowMs) continue;
    kinds.push(kind);
    endsAt = Math.min(endsAt ?? Infinity, lastMet + rules[kind].windowMs + 1);
  }
  return endsAt === undefined ? { kinds } : { kinds, endsAt };
}

/**
 * The marks a later decision can need: a new mark's window holds at most `minCount - 1` older ones worth counting,
 * and none older than a window (plus what a late delivery may still bring) before now.
 */
export function keepMarks(marks: readonly EpisodeMark[], rule: EpisodeRule, now: number, lateMs: number) {
  return inTimeOrder(marks)
    .filter((mark) => markTime(mark) >= now - rule.windowMs - lateMs)
    .slice(-rule.minCount);
}

/** A connection and the one after it in the order. */
export interface Followed {
  connection: ConnectionFacts;
  next?: ConnectionFacts;
}

/** The values given, once each, in order. */
function distinct(values: ReadonlyArray<string | undefined>): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined))].sort();
}

const versionOf = ({ versionNumber }: { versionNumber?: number }) =>
  versionNumber === undefined ? {} : { version: versionNumber };

/** Ends of connections that the next connection of the same clientId took over. */
export function takeoverMarks(steps: readonly Followed[]): EpisodeMark[] {
  const marks: EpisodeMark[] = [];
  for (const { connection, next } of steps) {
    const { endReason, endSeenAt, endedAt } = connection;
    if (endReason !== 'DUPLICATE_CLIENTID' || endSeenAt === undefined || endedAt === undefined) continue;
    marks.push({
      endedAt,
      ...versionOf(connection),
      at: endSeenAt,
      reason: endReason,
      principals: distinct([connection.principalIdentifier, next?.principalIdentifier]),
      ipAddresses: distinct([connection.ipAddress, next?.ipAddress]),
    });
  }
  return marks;
}

/** Abrupt ends (takeovers aside: the newer connection had already started) after which the device was back. */
export function flapMarks(steps: readonly Followed[]): EpisodeMark[] {
  return steps.flatMap(({ connection, next }) => {
    const { endReason: reason, endSeenAt, endedAt } = connection;
    if (!next || endSeenAt === undefined || endedAt === undefined || reason === undefined) return [];
    if (reason === 'CLIENT_INITIATED_DISCONNECT' || reason === 'DUPLICATE_CLIENTID') return [];
    return [
      {
        endedAt,
        ...versionOf(connection),
        at: endSeenAt,
        reason,
        gapMs: Math.max(0, firstSeenAt(next) - endSeenAt),
      },
    ];
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return 0;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
