const EMPTY_METRICS_WARNING = 'No application metrics to publish.';

let users = 0;
let original: typeof console.warn | undefined;
let filtered: typeof console.warn | undefined;

/**
 * The functions share one Powertools Metrics instance per module, as in Lambda, but here invocations overlap in one
 * process: one invocation's logMetrics flushes what a concurrent one added, and the other then warns that it has
 * nothing to publish. Harmless (metrics are disabled locally) but it floods the console and costs the replay a tenth
 * of its time, so it is filtered out until the last user gives it back. Returns that give-back.
 */
export function silenceEmptyMetricsWarning(): () => void {
  if (users === 0) {
    const warn = console.warn;
    original = warn;
    filtered = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith(EMPTY_METRICS_WARNING)) return;
      warn.apply(console, args);
    };
    console.warn = filtered;
  }
  users += 1;
  let given = false;
  return () => {
    if (given) return;
    given = true;
    users -= 1;
    if (users === 0 && original && console.warn === filtered) console.warn = original;
  };
}
