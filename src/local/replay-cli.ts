import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { quietForLocalRun } from '../adapters/observability.js';
import { dropSdkNodeVersionNotice } from './node-version-notice.js';

// stdout carries exactly one JSON document, written last: everything else written to stdout goes to stderr, the
// console's lines and those of the functions' logger and metrics (which write through consoles of their own).
const writeDocument = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);
// The functions log at WARN unless POWERTOOLS_LOG_LEVEL says otherwise, and print no EMF metrics; the SDK's notice
// about Node 22 (the fidelity path builds SDK clients) is not printed.
quietForLocalRun({ logLevel: 'WARN' });
dropSdkNodeVersionNotice();

const USAGE = 'usage: npm run --silent replay -- <trace.jsonl> [--fidelity] [--progress]\n';
const args = process.argv.slice(2);
const path = args.find((arg) => !arg.startsWith('--'));
const unknown = args.filter((arg) => arg.startsWith('--') && arg !== '--fidelity' && arg !== '--progress');
if (!path || unknown.length > 0) {
  process.stderr.write(unknown.length > 0 ? `unknown option ${unknown.join(', ')}\n${USAGE}` : USAGE);
  process.exit(2);
}
const fidelity = args.includes('--fidelity');
const showProgress = args.includes('--progress') || process.stderr.isTTY === true;

/** Every 10 s of a run: lines done, lines/s and what is left, on one line of stderr. */
const PROGRESS_EVERY_MS = 10_000;

const { replayTrace } = await import('./replay.js');
const started = performance.now();
let lastProgress = started;
const onProgress = (done: number, total: number) => {
  const now = performance.now();
  if (now - lastProgress < PROGRESS_EVERY_MS) return;
  lastProgress = now;
  const perSecond = done / ((now - started) / 1000);
  const eta = perSecond > 0 ? (total - done) / perSecond : Number.NaN;
  process.stderr.write(
    `replay: ${done}/${total} lines, ${perSecond.toFixed(0)} lines/s, about ${eta.toFixed(0)} s left\n`,
  );
};
// npm runs scripts from the package root; a relative path means relative to where the user typed the command.
const result = await replayTrace(
  readFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), path), 'utf8').split('\n'),
  { fidelity, ...(showProgress ? { onProgress } : {}) },
);
const seconds = (performance.now() - started) / 1000;
process.stderr.write(
  `replayed ${result.lines} lines in ${seconds.toFixed(1)} s (${(result.lines / seconds).toFixed(0)} lines/s, ${result.mode})\n`,
);
const { lines: _lines, writes: _writes, ...document } = result;
writeDocument(`${JSON.stringify(document)}\n`);
