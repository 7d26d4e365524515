import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { logger, metrics } from '../../adapters/observability.js';
import {
  DeviceNotFoundError,
  DomainError,
  IncidentNotFoundError,
  InvalidCursorError,
  InvalidInputError,
} from '../../domain/errors.js';
import type * as z from '../../shared/zod.js';
import { clientDeviceIdSchema } from './input-guards.js';
import { lambdaShell } from './lambda-shell.js';

export type HttpResponse = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/** The one place errors become responses: domain errors by kind, anything else a bare 500. */
function errorResponse(error: unknown): HttpResponse {
  if (error instanceof DeviceNotFoundError || error instanceof IncidentNotFoundError) {
    return json(404, { error: error.message });
  }
  if (error instanceof InvalidInputError || error instanceof InvalidCursorError) {
    return json(400, { error: error.message });
  }
  if (error instanceof DomainError) return json(409, { error: error.message });
  logger.error('unhandled error', { error: error as Error });
  metrics.addMetric('HttpErrors', MetricUnit.Count, 1);
  return json(500, { error: 'internal error' });
}

export function httpShell(handler: (event: APIGatewayProxyEventV2) => Promise<HttpResponse>) {
  return lambdaShell(
    async (event: APIGatewayProxyEventV2) => {
      metrics.addMetric('ApiRequests', MetricUnit.Count, 1);
      try {
        return await handler(event);
      } catch (error) {
        return errorResponse(error);
      }
    },
    { crashable: false },
  );
}

/**
 * What is wrong with a request, as short sentences about it ("limit must be a whole number from 1 to 100"): the
 * request schemas carry those sentences as their messages; an issue without one still names its parameter.
 */
function requestProblem(error: z.core.$ZodError, what: string): string {
  const sentences = error.issues.slice(0, 5).map((issue) => {
    const parameter = issue.path.join('.') || what;
    return issue.message.startsWith(parameter)
      ? issue.message
      : `${parameter} is not valid: ${issue.message}`;
  });
  return [...new Set(sentences)].join('; ');
}

/** Validates with zod and raises the domain's InvalidInputError with a readable reason. */
export function parseOrThrow<T>(schema: z.ZodMiniType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) throw new InvalidInputError(requestProblem(result.error, what));
  return result.data;
}

export function pathDeviceId(event: APIGatewayProxyEventV2): string {
  return parseOrThrow(clientDeviceIdSchema, event.pathParameters?.deviceId, 'deviceId');
}

/** A duration in whole seconds, as every response gives durations. */
export const wholeSeconds = (ms: number) => Math.round(ms / 1000);

export const isoTime = (epochMs: number | undefined) =>
  epochMs === undefined ? null : new Date(epochMs).toISOString();
