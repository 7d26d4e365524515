/**
 * The server of `npm run dashboard`: the built page plus the API routes, forwarded (signed) to a deployed stage.
 * Loopback only, and only for requests addressed to this server by name (the Host header), so that a web page
 * elsewhere cannot use it through DNS rebinding to read the fleet with the user's AWS credentials.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
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

export interface DashboardServer {
  port: number;
  url: string;
  /** Stops accepting connections, closes the open ones; idempotent. */
  stop(): Promise<void>;
}

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
  const sockets = new Set<Socket>();

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

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log(
        `[dashboard] ${request.method} ${request.url} failed: ${error instanceof Error ? error.stack : String(error)}`,
      );
      if (!response.headersSent) sendText(response, 500, 'internal error\n');
      else response.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let stopping: Promise<void> | undefined;
  return {
    port,
    url: `http://${urlHost}:${port}`,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, 250).unref();
      });
      return stopping;
    },
  };
}
