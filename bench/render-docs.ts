/**
 * `npm run bench:docs`: writes the figures of bench/results.json into docs/performance.md, between the markers
 * `<!-- bench-results:start -->` and `<!-- bench-results:end -->`, and the bench's run time into the README,
 * between `<!-- bench-run:start -->` and `<!-- bench-run:end -->`, so that no figure there is copied by hand.
 * `--check` only says whether both are up to date (exit code 1 if not).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { END, README_END, README_START, readmeSection, renderedSection, START } from './docs-sections.js';
import { readResults } from './results.js';

const page = fileURLToPath(new URL('../docs/performance.md', import.meta.url));
const readme = fileURLToPath(new URL('../README.md', import.meta.url));

/** Replaces the text between a file's markers; undefined when they are missing. */
function replaced(text: string, start: string, end: string, section: string): string | undefined {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) return undefined;
  return `${text.slice(0, from)}${section}${text.slice(to + end.length)}`;
}

async function main(): Promise<number> {
  const results = await readResults();
  const targets = [
    { path: page, start: START, end: END, section: renderedSection(results) },
    { path: readme, start: README_START, end: README_END, section: readmeSection(results) },
  ];
  let code = 0;
  for (const { path, start, end, section } of targets) {
    const text = await readFile(path, 'utf8');
    const updated = replaced(text, start, end, section);
    if (updated === undefined) {
      process.stderr.write(`${path}: the markers ${start} and ${end} are missing\n`);
      code = 1;
    } else if (process.argv.includes('--check')) {
      if (updated !== text) {
        process.stderr.write(`${path} is not up to date with bench/results.json: run npm run bench:docs\n`);
        code = 1;
      }
    } else {
      await writeFile(path, updated);
      process.stdout.write(`${path}: figures written from bench/results.json\n`);
    }
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
