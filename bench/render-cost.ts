/**
 * `npm run bench:docs` (after render-docs.ts): writes the cost figures of the last full bench run (entries
 * `end-to-end` and `end-to-end-fleet` of bench/results.json) and the prices of bench/prices.ts into docs/cost.md and
 * README.md, between the markers `<!-- cost:start -->` and `<!-- cost:end -->`, so that no cost figure is copied by
 * hand. `--check` only says whether both pages are up to date (exit code 1 if not).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PRICE_REGION, PRICES } from './prices.js';
import { type RecordedEntry, readResults } from './results.js';
import { fmt } from './support.js';

const START = '<!-- cost:start -->';
const END = '<!-- cost:end -->';
const costPage = fileURLToPath(new URL('../docs/cost.md', import.meta.url));
const readme = fileURLToPath(new URL('../README.md', import.meta.url));

const DAYS_PER_MONTH = 30;
const FLEETS = [1_000, 100_000, 1_000_000];
const CHANGES_PER_DAY = [24, 240];

interface CostFigures {
  lines?: number;
  devices?: number;
  writeUnitsPerEvent?: number;
  writeUnitsPerEventBy?: Record<string, number>;
  readUnitsPerEvent?: number;
  deviceWritesPerEvent?: number;
  lambdaInvocationsPerEvent?: number;
  lambdaGbSecondsPerEvent?: number;
  delayedChecksPerEvent?: number;
  dollarsPerMillionEvents?: number;
  dollarsPerMillionEventsBy?: Record<string, number>;
  floorDollarsPerMillionEvents?: number;
  ratioToFloor?: number;
}

const money = (dollars: number) =>
  `$${dollars.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** One month of a fleet: what this design costs at the measured dollars per event, and Fleet Indexing's bill. */
function monthlyRows(dollarsPerMillionEvents: number): string[] {
  return FLEETS.flatMap((devices) =>
    CHANGES_PER_DAY.map((changes) => {
      const events = devices * changes * DAYS_PER_MONTH;
      const queries = devices * 24 * DAYS_PER_MONTH;
      const ours = (events * dollarsPerMillionEvents) / 1e6;
      const indexing = events * PRICES.fleetIndexUpdate.dollars + queries * PRICES.fleetIndexQuery.dollars;
      return `| ${devices.toLocaleString('en-US')} | ${changes} | ${fmt(events / 1e6, 2)} M | ${money(ours)} | ${money(indexing)} |`;
    }),
  );
}

function figuresTable(entries: ReadonlyArray<RecordedEntry | undefined>): string[] {
  const named = entries.filter((entry): entry is RecordedEntry => entry !== undefined);
  const f = (entry: RecordedEntry) => entry.figures as CostFigures;
  const row = (label: string, value: (figures: CostFigures) => string) =>
    `| ${label} | ${named.map((entry) => value(f(entry))).join(' | ')} |`;
  const tables = [
    ...new Set(named.flatMap((entry) => Object.keys(f(entry).writeUnitsPerEventBy ?? {}))),
  ].sort();
  const charges = [
    ...new Set(named.flatMap((entry) => Object.keys(f(entry).dollarsPerMillionEventsBy ?? {}))),
  ];
  const num = (value: number | undefined, digits = 2) => (value === undefined ? '-' : fmt(value, digits));
  return [
    `| per event | ${named.map((entry) => `\`${entry.name}\`: ${f(entry).devices ?? '?'} devices, ${f(entry).lines ?? '?'} events`).join(' | ')} |`,
    `|---|${named.map(() => '---:').join('|')}|`,
    ...tables.map((table) =>
      row(`WRU: ${table}`, (figures) => num(figures.writeUnitsPerEventBy?.[table] ?? 0)),
    ),
    row('**WRU, total**', (figures) => `**${num(figures.writeUnitsPerEvent)}**`),
    row('device records written', (figures) => num(figures.deviceWritesPerEvent)),
    row('RRU', (figures) => num(figures.readUnitsPerEvent)),
    row('delayed checks', (figures) => num(figures.delayedChecksPerEvent)),
    row('Lambda invocations', (figures) => num(figures.lambdaInvocationsPerEvent)),
    row('Lambda GB-s (×1000)', (figures) => num((figures.lambdaGbSecondsPerEvent ?? 0) * 1000)),
    ...charges.map((charge) =>
      row(`$ per million: ${charge}`, (figures) => num(figures.dollarsPerMillionEventsBy?.[charge])),
    ),
    row('**$ per million events**', (figures) => `**${num(figures.dollarsPerMillionEvents)}**`),
    row('floor, $ per million', (figures) => num(figures.floorDollarsPerMillionEvents)),
    row('ratio to the floor', (figures) => num(figures.ratioToFloor)),
    `| the entry's wall time, s (a shared machine) | ${named.map((entry) => fmt(entry.durationMs / 1000, 1)).join(' | ')} |`,
  ];
}

async function sections(): Promise<{ cost: string; readme: string } | undefined> {
  const full = (await readResults()).full;
  const entry = (name: string) => full?.entries.find((candidate) => candidate.name === name);
  const fleet = entry('end-to-end-fleet');
  const flappy = entry('end-to-end');
  const fleetFigures = fleet?.figures as CostFigures | undefined;
  if (!fleet || fleetFigures?.dollarsPerMillionEvents === undefined) return undefined;
  const measuredOn = full?.lastRun?.startedAt.slice(0, 10) ?? 'the last full run';
  const wrap = (lines: string[]) =>
    [
      START,
      '<!-- Generated by `npm run bench:docs` from bench/results.json: edit bench/render-cost.ts. -->',
      '',
      ...lines,
      END,
    ].join('\n');
  const cost = wrap([
    `Measured by the last full \`npm run bench\` (${measuredOn}); ${PRICE_REGION} on-demand prices without free tier.`,
    '',
    ...figuresTable([flappy, fleet]),
    '',
    `### A month, at ${money(fleetFigures.dollarsPerMillionEvents)} per million events (\`end-to-end-fleet\`)`,
    '',
    '| devices | connection changes per device per day | events a month | iot-presence | Fleet Indexing: its index updates + one status query per device per hour |',
    '|---:|---:|---:|---:|---:|',
    ...monthlyRows(fleetFigures.dollarsPerMillionEvents),
    '',
    `${DAYS_PER_MONTH}-day months. Fleet Indexing: ${money(PRICES.fleetIndexUpdate.dollars * 1e6)} per million index updates, ${money(PRICES.fleetIndexQuery.dollars * 1e6)} per million queries; it keeps no history and sends no alerts.`,
  ]);
  const readmeSection = wrap([
    `On AWS (${PRICE_REGION}, on-demand, measured by \`npm run bench\` on a mixed fleet of ${fleetFigures.devices?.toLocaleString('en-US') ?? '?'} devices): **${money(fleetFigures.dollarsPerMillionEvents)} per million connection events**, ${fmt(fleetFigures.ratioToFloor ?? 0, 2)}× this design's floor of ${money(fleetFigures.floorDollarsPerMillionEvents ?? 0)}, ${fmt(fleetFigures.writeUnitsPerEvent ?? 0, 2)} write units per event; IoT rules, Lambda, DynamoDB, SQS and SNS included, CloudWatch Logs and storage left out. Monthly figures beside AWS IoT Fleet Indexing: [docs/cost.md](docs/cost.md).`,
  ]);
  return { cost, readme: readmeSection };
}

async function rewrite(path: string, section: string, check: boolean): Promise<boolean> {
  const text = await readFile(path, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${path}: the markers ${START} and ${END} are missing`);
  const updated = `${text.slice(0, from)}${section}${text.slice(to + END.length)}`;
  if (updated === text) return true;
  if (check) {
    process.stderr.write(`${path} is not up to date with bench/results.json: run npm run bench:docs\n`);
    return false;
  }
  await writeFile(path, updated);
  process.stdout.write(`${path}: cost figures written from bench/results.json\n`);
  return true;
}

async function main(): Promise<number> {
  const rendered = await sections();
  if (!rendered) {
    process.stderr.write(
      'no full-mode end-to-end-fleet entry in bench/results.json: cost figures left as they are\n',
    );
    return 0;
  }
  const check = process.argv.includes('--check');
  const ok = [await rewrite(costPage, rendered.cost, check), await rewrite(readme, rendered.readme, check)];
  return ok.every(Boolean) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
