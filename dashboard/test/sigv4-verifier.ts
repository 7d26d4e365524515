/**
 * A stand-in for API Gateway's IAM authorisation, on loopback: it recomputes the SigV4 signature of every
 * request with the SDK's own signer and the credentials it knows, and answers 403 unless it matches.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface VerifiedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  verdict: 'valid' | string;
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

function amzDate(value: string): Date {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) throw new Error(`bad x-amz-date ${value}`);
  const [, y, mo, d, h, mi, s] = match;
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
}

async function verify(
  request: IncomingMessage,
  credentials: StaticCredentials,
  region: string,
  service: string,
): Promise<string> {
  const authorization = request.headers.authorization ?? '';
  const match = AUTHORIZATION.exec(authorization);
  if (!match) return 'no SigV4 authorization header';
  const [, keyId, , scopeRegion, scopeService, signedHeaders] = match;
  if (keyId !== credentials.accessKeyId) return `unknown access key ${keyId}`;
  if (scopeRegion !== region || scopeService !== service) return `wrong scope ${scopeRegion}/${scopeService}`;
  const date = amzDate(String(request.headers['x-amz-date'] ?? ''));
  if (Math.abs(Date.now() - date.getTime()) > 5 * 60_000) return 'request time too skewed';
  const url = request.url ?? '/';
  const queryAt = url.indexOf('?');
  const query: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(queryAt < 0 ? '' : url.slice(queryAt + 1)))
    query[key] = value;
  const headers: Record<string, string> = {};
  for (const name of (signedHeaders as string).split(';'))
    headers[name] = String(request.headers[name] ?? '');
  const [hostname, port] = (headers.host ?? '').split(':');
  const signer = new SignatureV4({ service, region, credentials, sha256: Sha256 });
  const recomputed = await signer.sign(
    {
      method: request.method ?? 'GET',
      protocol: 'http:',
      hostname: hostname ?? '',
      ...(port ? { port: Number(port) } : {}),
      path: queryAt < 0 ? url : url.slice(0, queryAt),
      query,
      headers,
    },
    { signingDate: date },
  );
  return recomputed.headers.authorization === authorization ? 'valid' : 'signature does not match';
}

export async function startVerifyingApi(options: {
  credentials: StaticCredentials;
  region: string;
  service?: string;
}): Promise<{ url: string; seen: VerifiedRequest[]; stop(): Promise<void> }> {
  const seen: VerifiedRequest[] = [];
  const server = createServer((request, response) => {
    request.resume();
    verify(request, options.credentials, options.region, options.service ?? 'execute-api')
      .catch((error: unknown) => (error instanceof Error ? error.message : String(error)))
      .then((verdict) => {
        const url = new URL(request.url ?? '/', 'http://verifier');
        const record: VerifiedRequest = {
          method: request.method ?? '',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)])),
          verdict,
        };
        seen.push(record);
        const ok = verdict === 'valid';
        const body = JSON.stringify(
          ok ? { items: [], cursor: null, path: url.pathname } : { message: 'Forbidden' },
        );
        response.writeHead(ok ? 200 : 403, { 'content-type': 'application/json' });
        response.end(body);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
