import { sharedOverride } from './shared-override.js';

const EMPTY_METRICS_WARNING = 'No application metrics to publish.';

/**
 * The functions share one Powertools Metrics instance per module, as in Lambda, but here invocations overlap in one
 * process: one invocation's logMetrics flushes what a concurrent one added, and the other then warns that it has
 * nothing to publish. Harmless (metrics are disabled locally) but it floods the console and costs the replay a tenth
 * of its time, so it is filtered out until the last user gives it back. Returns that give-back.
 */
export const silenceEmptyMetricsWarning: () => () => void = sharedOverride(() => {
  const warn = console.warn;
  const filtered = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith(EMPTY_METRICS_WARNING)) return;
    warn.apply(console, args);
  };
  console.warn = filtered;
  return () => {
    if (console.warn === filtered) console.warn = warn;
  };
});
