let users = 0;
let real: NodeJS.ProcessEnv | undefined;
let snapshot: NodeJS.ProcessEnv | undefined;

/**
 * process.env as a plain object while an in-memory replay runs. Node's process.env calls into C++ on every read
 * (about 0.25 µs), and Powertools' Logger and Metrics read it about 13 times per invocation (shouldUseInvokeStore
 * and friends): a few percent of a replay. The handlers run the same code; only their reads get cheaper. What is
 * written to the snapshot meanwhile is carried back to the real environment when the last user gives it back, as
 * the returned function does.
 */
export function snapshotEnvironment(): () => void {
  if (users === 0) {
    real = process.env;
    snapshot = { ...real };
    process.env = snapshot;
  }
  users += 1;
  let given = false;
  return () => {
    if (given) return;
    given = true;
    users -= 1;
    if (users > 0 || !real || !snapshot) return;
    const [environment, written] = [real, snapshot];
    real = undefined;
    snapshot = undefined;
    if (process.env !== written) return; // replaced by someone else meanwhile: theirs stands
    for (const name of Object.keys(environment)) if (written[name] === undefined) delete environment[name];
    for (const [name, value] of Object.entries(written))
      if (value !== undefined && environment[name] !== value) environment[name] = value;
    process.env = environment;
  };
}
