import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { quietForLocalRun } from '../adapters/observability.js';

// stdout carries exactly one JSON document, written last: everything else written to stdout goes to stderr, the
// console's lines and those of the functions' logger and metrics (which write through consoles of their own).
const writeDocument = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);
// The functions log at WARN unless POWERTOOLS_LOG_LEVEL says otherwise, and print no EMF metrics.
quietForLocalRun({ logLevel: 'WARN' });

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
writeDocument(`${JSON.stringify(document)}\n`);
