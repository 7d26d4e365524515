/**
 * The deployed HTTP API (API Gateway HTTP API, payload format 2.0) on loopback: the same GET routes as
 * serverless.yml, each request turned into an APIGatewayProxyEventV2 and handed to the function's handler.
 * There is no IAM signature check locally, so the server only ever binds to a loopback address.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ApiHandler } from './lambda/function.js';
import { lambdaContext } from './lambda-context.js';
import { type RunningServer, serveOnLoopback } from './loopback-server.js';

type HttpHandler = ApiHandler;

interface HttpRoutesHandlers {
  getDevice: HttpHandler;
  listDevices: HttpHandler;
  listDeviceEvents: HttpHandler;
  deviceUptime: HttpHandler;
  listAlerts: HttpHandler;
  listIncidents: HttpHandler;
  fleet: HttpHandler;
  getIncident: HttpHandler;
  health: HttpHandler;
}

export interface LocalHttpServerOptions {
  handlers: HttpRoutesHandlers;
  /** 0 picks a free port. */
  port: number;
  /** Must be a loopback address; default 127.0.0.1. */
  host?: string;
  log?: (line: string) => void;
  /** Local stand-in for invoking the deployed redrive function (`npm run redrive`). */
  redrive?: () => Promise<{ redriven: number; reconciled: number }>;
  /** Answers what is not an API route (the dashboard page); returns false to leave it to the 404. */
  fallback?: (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;
}

/** Every route of the API, as serverless.yml declares them and matchRoute answers them. */
export const API_ROUTE_KEYS = [
  'GET /devices/{deviceId}',
  'GET /devices',
  'GET /devices/{deviceId}/events',
  'GET /devices/{deviceId}/uptime',
  'GET /alerts',
  'GET /fleet',
  'GET /incidents',
  'GET /incidents/{incidentId}',
  'GET /health',
] as const;

/** The one route the deployment does not have: feeding dead-lettered events back, on loopback only. */
export const REDRIVE_PATH = '/local/redrive';

export type LocalHttpServer = RunningServer;

interface RouteMatch {
  routeKey: string;
  functionName: keyof HttpRoutesHandlers;
  pathParameters?: Record<string, string>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

class PathDecodingError extends Error {
  override name = 'PathDecodingError';
}

/** Matches a raw path against the routes of serverless.yml; path parameters come back URL-decoded. */
export function matchRoute(rawPath: string): RouteMatch | undefined {
  const segments = rawPath.split('/').slice(1);
  if (segments[0] === 'health') {
    return segments.length === 1 ? { routeKey: 'GET /health', functionName: 'health' } : undefined;
  }
  if (segments[0] === 'fleet') {
    return segments.length === 1 ? { routeKey: 'GET /fleet', functionName: 'fleet' } : undefined;
  }
  if (segments[0] !== 'devices' && segments[0] !== 'alerts' && segments[0] !== 'incidents') return undefined;
  const decode = (segment: string) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw new PathDecodingError(`invalid percent-encoding in path segment "${segment}"`);
    }
  };
  if (segments[0] === 'alerts') {
    return segments.length === 1 ? { routeKey: 'GET /alerts', functionName: 'listAlerts' } : undefined;
  }
  if (segments[0] === 'incidents') {
    if (segments.length === 1) return { routeKey: 'GET /incidents', functionName: 'listIncidents' };
    const incidentSegment = segments[1];
    if (segments.length !== 2 || !incidentSegment) return undefined;
    return {
      routeKey: 'GET /incidents/{incidentId}',
      functionName: 'getIncident',
      pathParameters: { incidentId: decode(incidentSegment) },
    };
  }
  if (segments.length === 1) return { routeKey: 'GET /devices', functionName: 'listDevices' };
  const deviceSegment = segments[1];
  // API Gateway does not match a greedy-less {deviceId} against an empty segment.
  if (!deviceSegment) return undefined;
  if (segments.length === 2) {
    return {
      routeKey: 'GET /devices/{deviceId}',
      functionName: 'getDevice',
      pathParameters: { deviceId: decode(deviceSegment) },
    };
  }
  if (segments.length === 3 && segments[2] === 'events') {
    return {
      routeKey: 'GET /devices/{deviceId}/events',
      functionName: 'listDeviceEvents',
      pathParameters: { deviceId: decode(deviceSegment) },
    };
  }
  if (segments.length === 3 && segments[2] === 'uptime') {
    return {
      routeKey: 'GET /devices/{deviceId}/uptime',
      functionName: 'deviceUptime',
      pathParameters: { deviceId: decode(deviceSegment) },
    };
  }
  return undefined;
}

/** API Gateway v2 joins repeated query parameters with commas and hands them over decoded. */
function queryParameters(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === '') return undefined;
  const parameters: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    parameters[key] = key in parameters ? `${parameters[key]},${value}` : value;
  }
  return Object.keys(parameters).length > 0 ? parameters : undefined;
}

function headersOf(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

/** The event API Gateway (HTTP API, payload 2.0) would hand the function for this request. */
function apiGatewayEvent(
  request: IncomingMessage,
  route: RouteMatch,
  rawPath: string,
  rawQueryString: string,
  port: number,
): APIGatewayProxyEventV2 {
  const now = new Date();
  const headers = headersOf(request);
  const sourceIp = (request.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const queryStringParameters = queryParameters(rawQueryString);
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath,
    rawQueryString,
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    ...(route.pathParameters ? { pathParameters: route.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? `127.0.0.1:${port}`,
      domainPrefix: 'local',
      http: {
        method: request.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
}

function send(
  response: ServerResponse,
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  response.writeHead(statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

function writeResult(response: ServerResponse, result: unknown): void {
  if (result === null || typeof result !== 'object' || !('statusCode' in result)) {
    // A bare value: API Gateway's payload 2.0 treats it as a 200 JSON body.
    send(response, 200, result ?? null);
    return;
  }
  const structured = result as APIGatewayProxyStructuredResultV2;
  const body = structured.body ?? '';
  const bytes = structured.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  const headers: Record<string, string | number | string[]> = {};
  for (const [name, value] of Object.entries(structured.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  if (structured.cookies?.length) headers['set-cookie'] = structured.cookies;
  headers['content-length'] = bytes.length;
  response.writeHead(structured.statusCode ?? 200, headers);
  response.end(bytes);
}

export async function startHttpServer(options: LocalHttpServerOptions): Promise<LocalHttpServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host))
    throw new Error(`the local HTTP API has no authentication and only binds to loopback, not ${host}`);
  const log = options.log ?? (() => undefined);
  let port = options.port;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // GET requests carry no body; drain whatever comes so the connection can be reused.
    request.resume();
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
    const rawQueryString = queryAt < 0 ? '' : url.slice(queryAt + 1);
    let route: RouteMatch | undefined;
    try {
      route = matchRoute(rawPath);
    } catch (error) {
      if (error instanceof PathDecodingError) return send(response, 400, { error: error.message });
      throw error;
    }
    if (rawPath === REDRIVE_PATH && request.method === 'POST' && options.redrive) {
      return send(response, 200, { ...(await options.redrive()) });
    }
    if (!route && options.fallback && (await options.fallback(request, response))) return;
    if (!route) return send(response, 404, { error: 'not found' });
    if (request.method !== 'GET') {
      return send(response, 405, { error: `method ${request.method} not allowed` }, { allow: 'GET' });
    }
    const event = apiGatewayEvent(request, route, rawPath, rawQueryString, port);
    const result = await options.handlers[route.functionName](event, lambdaContext(route.functionName));
    writeResult(response, result);
  }

  const running = await serveOnLoopback({
    host,
    port,
    handle,
    internalError: (response) => send(response, 500, { error: 'internal error' }),
    log,
    label: 'http',
  });
  port = running.port;
  return running;
}
