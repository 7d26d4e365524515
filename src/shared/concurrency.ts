/** Runs `work` for each key with at most `concurrency` in flight; collects which keys failed. */
export async function forEachWithLimit<T>(
  keys: readonly T[],
  concurrency: number,
  work: (key: T) => Promise<void>,
): Promise<Array<{ key: T; error: unknown }>> {
  const failures: Array<{ key: T; error: unknown }> = [];
  let next = 0;
  const runners = Array.from({ length: Math.min(concurrency, keys.length) }, async () => {
    while (next < keys.length) {
      const key = keys[next] as T;
      next += 1;
      try {
        await work(key);
      } catch (error) {
        failures.push({ key, error });
      }
    }
  });
  await Promise.all(runners);
  return failures;
}
