/**
 * An HTTP server on a loopback address that stops cleanly: the one listening and stopping mechanism of the local
 * API and of the dashboard's deployed-stage server.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RunningServer {
  port: number;
  url: string;
  /** Stops accepting connections, closes idle and open ones, resolves once the port is free. Idempotent. */
  stop(): Promise<void>;
}

export interface ServeOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>;
  /** Answers a request whose handler threw before it wrote anything. */
  internalError: (response: ServerResponse) => void;
  /** Where a handler's failure is reported, with this label. */
  log: (line: string) => void;
  label: string;
}

export async function serveOnLoopback(options: ServeOptions): Promise<RunningServer> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    options.handle(request, response).catch((error: unknown) => {
      options.log(
        `[${options.label}] ${request.method} ${request.url} failed: ${error instanceof Error ? error.stack : String(error)}`,
      );
      if (!response.headersSent) options.internalError(response);
      else response.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  let stopping: Promise<void> | undefined;
  return {
    port,
    url: `http://${urlHost}:${port}`,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // In-flight requests get a moment to finish; then every connection goes.
        setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, 250).unref();
      });
      return stopping;
    },
  };
}
