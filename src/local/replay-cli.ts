import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { format } from 'node:util';

// stdout carries exactly one JSON document: every log line goes to stderr.
process.env.POWERTOOLS_DEV = 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
const toStderr = (...args: unknown[]) => process.stderr.write(`${format(...args)}\n`);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;
console.warn = toStderr;

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: npm run --silent replay -- <trace.jsonl>\n');
  process.exit(2);
}
const { replayTrace } = await import('./replay.js');
const started = performance.now();
// npm runs scripts from the package root; a relative path means relative to where the user typed the command.
const result = await replayTrace(
  readFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), path), 'utf8').split('\n'),
);
const seconds = (performance.now() - started) / 1000;
process.stderr.write(
  `replayed ${result.lines} lines in ${seconds.toFixed(1)} s (${(result.lines / seconds).toFixed(0)} lines/s)\n`,
);
const { lines: _lines, ...document } = result;
process.stdout.write(`${JSON.stringify(document)}\n`);
