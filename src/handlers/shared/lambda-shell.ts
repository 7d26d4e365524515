import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { environmentFaults, InjectedCrashError } from '../../adapters/faults.js';
import { logger, metrics } from '../../adapters/observability.js';

export interface ShellOptions {
  /** Whether an injected crash (IOT_PRESENCE_FAULTS crash=) may end this function after its work. */
  crashable?: boolean;
}

/** Every function is the same thin shell: structured logging with context, EMF metrics flushed per invocation. */
export function lambdaShell<TEvent, TResult>(
  handler: (event: TEvent, context: Context) => Promise<TResult>,
  options: ShellOptions = {},
) {
  const crashable = options.crashable ?? true;
  return middy<TEvent, TResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event, context) => {
      const result = await handler(event, context);
      if (crashable && environmentFaults().strikes('crash')) throw new InjectedCrashError();
      return result;
    });
}
