import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

/** A function's handler as Lambda calls it. */
export type LambdaHandler<E = unknown, R = unknown> = (event: E, context: Context) => Promise<R>;

/** The handler of an HTTP API route, as API Gateway (HTTP API, payload format 2.0) calls it. */
export type ApiHandler = LambdaHandler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>;

/** What the local Lambda parts count, as AWS would see it. */
export interface InvocationCounters {
  /** Lambda invocations, as AWS would bill them (retries included). */
  invocations: number;
  retries: number;
  deadLettered: number;
}

/** An event a function gave up on: where it went after the last retry. */
export interface DeadLetter {
  target: string;
  event: unknown;
  error: string;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.name : String(error);
}
