import { lambdaContext } from '../lambda-context.js';
import type { Timers } from '../timers.js';
import type { LambdaHandler } from './function.js';

/**
 * An EventBridge schedule (`rate(...)`) on the runtime's clock. A failed run is simply the next run's work. Runs
 * are background work: they never keep a virtual clock from counting as idle.
 */
export function scheduleEvery(
  timers: Timers,
  everyMs: number,
  functionName: string,
  handler: LambdaHandler<Record<string, never>>,
): void {
  if (everyMs <= 0) return;
  const next = (at: number) =>
    timers.at(
      at,
      async () => {
        await handler({}, lambdaContext(functionName)).catch(() => undefined);
        next(at + everyMs);
      },
      { background: true },
    );
  next(timers.now() + everyMs);
}
