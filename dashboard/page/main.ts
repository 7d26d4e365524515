/**
 * The live fleet dashboard: routes (#/ and #/device/<id>), the refresh loop (every few seconds, no reload) and
 * the "updated N s ago" line. Everything it shows comes from the public HTTP API routes.
 */
import { ApiError } from './api.js';
import { DeviceView } from './device-view.js';
import { byId, replaceContent } from './dom.js';
import { OverviewView } from './overview.js';

type Route = { view: 'overview' } | { view: 'device'; deviceId: string };

function routeOf(hash: string): Route {
  const match = /^#\/device\/(.+)$/.exec(hash);
  if (match?.[1]) {
    try {
      return { view: 'device', deviceId: decodeURIComponent(match[1]) };
    } catch {
      return { view: 'overview' };
    }
  }
  return { view: 'overview' };
}

const now = () => Date.now();
const updated = byId('updated');
const problem = byId('problem');
const pause = byId<HTMLButtonElement>('pause');
const every = byId<HTMLSelectElement>('refresh-every');

let refreshMs = Number(every.value) * 1000;
let paused = false;
let lastSuccess: number | null = null;
let timer: number | undefined;
let running: AbortController | null = null;
let route: Route = routeOf(location.hash);

function describe(error: unknown): string {
  if (error instanceof ApiError)
    return error.status === 0 ? error.message : `${error.message} (HTTP ${error.status})`;
  return error instanceof Error ? error.message : String(error);
}

function reportProblem(error: unknown): void {
  if (error instanceof DOMException && error.name === 'AbortError') return;
  replaceContent(problem, `Could not update: ${describe(error)}. Retrying.`);
}

function renderUpdated(): void {
  if (paused) {
    replaceContent(updated, lastSuccess === null ? 'paused' : `paused, updated ${ago(lastSuccess)} s ago`);
    return;
  }
  replaceContent(updated, lastSuccess === null ? 'loading…' : `updated ${ago(lastSuccess)} s ago`);
}

function ago(at: number): number {
  return Math.max(0, Math.round((now() - at) / 1000));
}

/** Runs one piece of work against the API, marking success or reporting the failure. */
async function run(task: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
  try {
    await task(signal);
    if (signal.aborted) return;
    lastSuccess = now();
    updated.dataset.updatedAt = String(lastSuccess);
    replaceContent(problem);
    renderUpdated();
  } catch (error) {
    if (!signal.aborted) reportProblem(error);
  }
}

const overview = new OverviewView(now, (task) => {
  void run(task, running?.signal ?? new AbortController().signal);
});
const device = new DeviceView(now);

async function refresh(): Promise<void> {
  window.clearTimeout(timer);
  running?.abort();
  const controller = new AbortController();
  running = controller;
  const view = route.view === 'device' ? device : overview;
  await run((signal) => view.refresh(signal), controller.signal);
  if (running === controller) schedule();
}

function schedule(): void {
  window.clearTimeout(timer);
  if (!paused) timer = window.setTimeout(() => void refresh(), refreshMs);
}

function showRoute(focus: boolean): void {
  route = routeOf(location.hash);
  byId('overview').hidden = route.view !== 'overview';
  byId('device').hidden = route.view !== 'device';
  if (route.view === 'device') device.show(route.deviceId);
  else document.title = 'Fleet · iot-presence';
  // A new view is like a new page for a screen reader: move focus to its heading.
  if (focus) byId(route.view === 'device' ? 'device-title' : 'overview-title').focus();
  void refresh();
}

window.addEventListener('hashchange', () => showRoute(true));
// The views live in the hash: the skip link moves focus without touching it.
byId('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  byId('main').focus();
});
every.addEventListener('change', () => {
  refreshMs = Number(every.value) * 1000;
  schedule();
});
pause.addEventListener('click', () => {
  paused = !paused;
  replaceContent(pause, paused ? 'Resume' : 'Pause');
  pause.setAttribute('aria-label', paused ? 'Resume refreshing' : 'Pause refreshing');
  renderUpdated();
  if (paused) window.clearTimeout(timer);
  else void refresh();
});
window.setInterval(renderUpdated, 1000);
showRoute(false);
