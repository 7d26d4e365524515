/**
 * Serves the built page (dashboard/dist) to GET and HEAD requests: `/` is index.html, `/assets/...` the hashed
 * scripts and styles. Only files found under the directory are served (no path is ever joined from the request),
 * with a content security policy that allows nothing but this origin.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../dist', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Dashboard not built</title>
<p>The dashboard has not been built. Run <code>npm run build:dashboard</code> (<code>npm ci</code> does it too), then reload.</p></html>`;

/** Answers a request for the page or one of its assets; returns false when the path is not one of them. */
export type StaticAssets = (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;

async function listFiles(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch {
    return files;
  }
  for (const entry of entries) {
    const urlPath = `/${relative(dir, join(dir, entry)).split(sep).join('/')}`;
    if (extname(urlPath) in CONTENT_TYPES) files.set(urlPath, join(dir, entry));
  }
  return files;
}

export function staticAssets(dir: string = DEFAULT_ASSETS_DIR): StaticAssets {
  return async (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    const url = request.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const isPage = path === '/' || path === '/index.html';
    if (!isPage && !path.startsWith('/assets/')) return false;
    // Listed per request: the directory holds a handful of files, and a rebuild renames them.
    const files = await listFiles(dir);
    const file = files.get(isPage ? '/index.html' : path);
    if (!file) {
      if (!isPage) return false;
      send(response, request, 503, 'text/html; charset=utf-8', Buffer.from(NOT_BUILT), 'no-store');
      return true;
    }
    const body = await readFile(file);
    const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
    // Hashed asset names change with their content; the page itself must always be asked for again.
    const cache = isPage ? 'no-cache' : 'public, max-age=31536000, immutable';
    send(response, request, 200, type, body, cache);
    return true;
  };
}

function send(
  response: ServerResponse,
  request: IncomingMessage,
  status: number,
  type: string,
  body: Buffer,
  cache: string,
): void {
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-length': body.length,
    'cache-control': cache,
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}
