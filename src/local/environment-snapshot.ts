import { sharedOverride } from './shared-override.js';

/**
 * process.env as a plain object while an in-memory replay runs. Node's process.env calls into C++ on every read
 * (about 0.25 µs), and Powertools' Logger and Metrics read it about 13 times per invocation (shouldUseInvokeStore
 * and friends): a few percent of a replay. The handlers run the same code; only their reads get cheaper. What is
 * written to the snapshot meanwhile is carried back to the real environment when the last user gives it back, as
 * the returned function does.
 */
export const snapshotEnvironment: () => () => void = sharedOverride(() => {
  const environment = process.env;
  const written: NodeJS.ProcessEnv = { ...environment };
  process.env = written;
  return () => {
    if (process.env !== written) return; // replaced by someone else meanwhile: theirs stands
    for (const name of Object.keys(environment)) if (written[name] === undefined) delete environment[name];
    for (const [name, value] of Object.entries(written))
      if (value !== undefined && environment[name] !== value) environment[name] = value;
    process.env = environment;
  };
});
