/**
 * The fleet's connected and disconnected counts over the last hours. The API answers the counts of now
 * (`GET /fleet`); the page keeps what it read, one sample per refresh, in the browser (localStorage), so the chart
 * covers the hours any page of this dashboard was open, with gaps where none was.
 *
 * Pure: no DOM, no storage.
 */

export interface FleetSample {
  at: number;
  connected: number;
  disconnected: number;
}

/** How far back the chart reaches. */
export const HISTORY_MS = 6 * 3_600_000;
/** Samples closer than this to the previous one replace it (a 2 s refresh does not fill the storage). */
const MIN_SPACING_MS = 10_000;
/** Samples further apart than this are not joined by a line: nothing was read in between. */
export const GAP_MS = 3 * 60_000;

/** The samples with `sample` added (or replacing one taken moments before), none older than HISTORY_MS. */
export function addSample(samples: readonly FleetSample[], sample: FleetSample): FleetSample[] {
  const kept = samples.filter((old) => old.at > sample.at - HISTORY_MS && old.at < sample.at);
  const last = kept[kept.length - 1];
  if (last && sample.at - last.at < MIN_SPACING_MS && kept.length > 1) kept.pop();
  kept.push(sample);
  return kept;
}

/** Samples read back from storage: anything malformed is dropped. */
export function parseSamples(text: string | null): FleetSample[] {
  if (!text) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const whole = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value >= 0;
  return parsed
    .filter(
      (item): item is FleetSample =>
        typeof item === 'object' &&
        item !== null &&
        whole((item as FleetSample).at) &&
        whole((item as FleetSample).connected) &&
        whole((item as FleetSample).disconnected),
    )
    .sort((a, b) => a.at - b.at);
}

export interface ChartLines {
  /** The time the chart starts at: the oldest sample within HISTORY_MS (it opens on what it knows). */
  from: number;
  to: number;
  /** The largest count drawn, the top of the chart. */
  top: number;
  /** Runs of samples without a gap, as SVG polyline points in a width x height box. */
  connected: string[];
  disconnected: string[];
}

export function chartLines(
  samples: readonly FleetSample[],
  now: number,
  width: number,
  height: number,
): ChartLines | null {
  const shown = samples.filter((sample) => sample.at >= now - HISTORY_MS && sample.at <= now);
  const first = shown[0];
  if (!first) return null;
  const from = first.at;
  const to = Math.max(now, from + 60_000);
  const top = Math.max(1, ...shown.map((sample) => Math.max(sample.connected, sample.disconnected)));
  const x = (at: number) => (((at - from) / (to - from)) * width).toFixed(1);
  const y = (count: number) => (height - (count / top) * height).toFixed(1);
  const runs: FleetSample[][] = [];
  for (const sample of shown) {
    const run = runs[runs.length - 1];
    const previous = run?.[run.length - 1];
    if (run && previous && sample.at - previous.at <= GAP_MS) run.push(sample);
    else runs.push([sample]);
  }
  // A lone sample still draws: a short flat step to its right.
  const line = (pick: (sample: FleetSample) => number) =>
    runs.map((run) => {
      const points = run.map((sample) => `${x(sample.at)},${y(pick(sample))}`);
      const last = run[run.length - 1] as FleetSample;
      if (run.length === 1) points.push(`${x(Math.min(to, last.at + 30_000))},${y(pick(last))}`);
      return points.join(' ');
    });
  return {
    from,
    to,
    top,
    connected: line((sample) => sample.connected),
    disconnected: line((sample) => sample.disconnected),
  };
}
