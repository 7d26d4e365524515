/**
 * The server of `npm run dashboard`: the built page plus the API routes, forwarded (signed) to a deployed stage.
 * Loopback only, and only for requests addressed to this server by name (the Host header), so that a web page
 * elsewhere cannot use it through DNS rebinding to read the fleet with the user's AWS credentials.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type RunningServer, serveOnLoopback } from '../../src/local/loopback-server.js';
import type { Forwarder } from './signed-api.js';
import { type StaticAssets, staticAssets } from './static-assets.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface DashboardServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** A loopback address; default 127.0.0.1. */
  host?: string;
  forward: Forwarder;
  assets?: StaticAssets;
  log?: (line: string) => void;
}

export type DashboardServer = RunningServer;

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host))
    throw new Error(`the dashboard signs with your AWS credentials: loopback only, not ${host}`);
  const assets = options.assets ?? staticAssets();
  const log = options.log ?? (() => undefined);
  let allowedHosts = new Set<string>();

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!allowedHosts.has((request.headers.host ?? '').toLowerCase())) {
      request.resume();
      return sendText(response, 421, 'this server only answers requests addressed to its loopback address\n');
    }
    if (await options.forward(request, response)) return;
    if (await assets(request, response)) return;
    request.resume();
    sendText(response, 404, 'not found\n');
  }

  const running = await serveOnLoopback({
    host,
    port: options.port,
    handle,
    internalError: (response) => sendText(response, 500, 'internal error\n'),
    log,
    label: 'dashboard',
  });
  allowedHosts = new Set([`127.0.0.1:${running.port}`, `localhost:${running.port}`, `[::1]:${running.port}`]);
  return running;
}
