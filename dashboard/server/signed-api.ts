/**
 * Forwards the page's API calls to a deployed stage's HTTP API, signed with SigV4 (service `execute-api`), as
 * IAM authorisation requires. Only the API's read routes are forwarded, only with GET, and nothing of the
 * browser's request but its path and query is passed on: no cookie, no header.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';

type SignerInit = ConstructorParameters<typeof SignatureV4>[0];
/** Static credentials or a provider such as the SDK's default chain. */
export type Credentials = SignerInit['credentials'];
type SignableRequest = Parameters<SignatureV4['presign']>[0];

const SIGNING_SERVICE = 'execute-api';

/** The routes of the HTTP API (serverless.yml), plus `GET /fleet` for when it exists. */
function isApiPath(path: string): boolean {
  return /^\/(?:devices(?:\/[^/]+(?:\/events)?)?|alerts|fleet)$/.test(path);
}

/** RFC 3986 encoding, as SigV4 canonicalises (encodeURIComponent leaves !'()* alone). */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Decodes each path segment and encodes it again strictly, so that what is sent is exactly what is signed. */
function normalizePath(path: string): string {
  return path
    .split('/')
    .map((segment) => rfc3986(decodeURIComponent(segment)))
    .join('/');
}

function parseQuery(rawQuery: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    const current = query[key];
    if (current === undefined) query[key] = value;
    else query[key] = Array.isArray(current) ? [...current, value] : [current, value];
  }
  return query;
}

function encodeQuery(query: Record<string, string | string[]>): string {
  const pairs: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const values = query[key] ?? [];
    for (const value of (Array.isArray(values) ? values : [values]).slice().sort()) {
      pairs.push(`${rfc3986(key)}=${rfc3986(value)}`);
    }
  }
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`;
}

export interface SignedApiOptions {
  /** The stage's HTTP API URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com (a base path is kept). */
  apiUrl: string;
  region: string;
  credentials: Credentials;
  /** Per request; default 15 s. */
  timeoutMs?: number;
}

/** Handles a request if it is for an API route (returns true), else leaves it (returns false). */
export type Forwarder = (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function signedApiForwarder(options: SignedApiOptions): Forwarder {
  const base = new URL(options.apiUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:')
    throw new Error(`the API URL must be http(s), not ${options.apiUrl}`);
  const basePath = base.pathname.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 15_000;
  const signer = new SignatureV4({
    service: SIGNING_SERVICE,
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  const send = base.protocol === 'https:' ? httpsRequest : httpRequest;

  return async (request, response) => {
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
    if (!isApiPath(rawPath)) return false;
    request.resume();
    if (request.method !== 'GET') {
      response.setHeader('allow', 'GET');
      sendJson(response, 405, { error: `method ${request.method} not allowed` });
      return true;
    }
    let path: string;
    try {
      path = basePath + normalizePath(rawPath);
    } catch {
      sendJson(response, 400, { error: 'invalid percent-encoding in the path' });
      return true;
    }
    const query = parseQuery(queryAt < 0 ? '' : url.slice(queryAt + 1));
    const unsigned: SignableRequest = {
      method: 'GET',
      protocol: base.protocol,
      hostname: base.hostname,
      ...(base.port ? { port: Number(base.port) } : {}),
      path,
      query,
      headers: { host: base.host, accept: 'application/json' },
    };
    let signed: SignableRequest;
    try {
      signed = await signer.sign(unsigned);
    } catch (error) {
      sendJson(response, 502, { error: `could not sign the request for the API: ${describe(error)}` });
      return true;
    }
    await new Promise<void>((resolve) => {
      const upstream = send(
        {
          method: 'GET',
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port || undefined,
          path: path + encodeQuery(query),
          headers: signed.headers,
          timeout: timeoutMs,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, {
            'content-type': answer.headers['content-type'] ?? 'application/json; charset=utf-8',
            'cache-control': 'no-store',
          });
          answer.pipe(response);
          answer.once('end', resolve);
          answer.once('error', () => {
            response.destroy();
            resolve();
          });
        },
      );
      upstream.once('timeout', () => upstream.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      upstream.once('error', (error) => {
        if (!response.headersSent)
          sendJson(response, 502, { error: `the API did not answer: ${describe(error)}` });
        else response.destroy();
        resolve();
      });
      upstream.end();
    });
    return true;
  };
}
