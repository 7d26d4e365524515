import type { AwsClients } from '../adapters/aws-clients.js';

export type RequestCounts = Record<string, number>;

interface MiddlewareClient {
  middlewareStack: {
    add(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
        context: { commandName?: string; clientName?: string },
      ) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; name: string; override?: boolean },
    ): void;
  };
}

/**
 * Counts every request the SDK clients send, by service and command, with an SDK middleware: the figures the
 * benchmarks and the replay report are measured, not estimated.
 */
export function countRequests(clients: AwsClients): RequestCounts {
  const counts: RequestCounts = {};
  const instrument = (service: string, client: unknown) =>
    (client as MiddlewareClient).middlewareStack.add(
      (next, context) => async (args) => {
        const key = `${service}.${context.commandName ?? 'unknown'}`;
        counts[key] = (counts[key] ?? 0) + 1;
        return next(args);
      },
      { step: 'initialize', name: 'iotPresenceRequestCounter', override: true },
    );
  instrument('dynamodb', clients.dynamo);
  instrument('sns', clients.sns);
  instrument('sqs', clients.sqs);
  return counts;
}
