/** Runs `work` for each key with at most `concurrency` in flight; collects which keys failed. */
export async function forEachWithLimit<T>(
  keys: readonly T[],
  concurrency: number,
  work: (key: T) => Promise<void>,
): Promise<Array<{ key: T; error: unknown }>> {
  const failures: Array<{ key: T; error: unknown }> = [];
  let next = 0;
  const run = async () => {
    while (next < keys.length) {
      const key = keys[next] as T;
      next += 1;
      try {
        await work(key);
      } catch (error) {
        failures.push({ key, error });
      }
    }
  };
  // A loop, not Array.from({ length }): every stream batch runs this, most with a single key.
  const runners: Array<Promise<void>> = [];
  for (let started = 0; started < Math.min(concurrency, keys.length); started += 1) runners.push(run());
  await Promise.all(runners);
  return failures;
}
