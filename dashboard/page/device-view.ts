/** One device: its current state, a drawn 24 h timeline, its alerts and its recent events. */
import { getDevice, listAlerts, listDeviceEvents, MAX_LIMIT } from './api.js';
import {
  alertKindBadge,
  alertWordsView,
  episodesView,
  lastWillView,
  publishedCell,
  reasonView,
  sessionView,
  settledView,
  statusBadge,
  td,
  timeCell,
  timeView,
  versionView,
} from './cells.js';
import { byId, h, reconcileRows, replaceContent, svg } from './dom.js';
import { clockTime, duration, exactTime } from './format.js';
import type { DeviceDetail, DeviceEventItem } from './model.js';
import { buildTimeline, connectedShare, DAY_MS, fittingWindow, type Span } from './timeline.js';

/** Events are read back until they reach past the 24 h window, at most this many pages of 100. */
const EVENT_PAGE_CAP = 10;
const RECENT_EVENTS = 25;

export class DeviceView {
  private deviceId = '';
  private windowMs = DAY_MS;
  /** Until the operator picks a window, the timeline opens on the one that fits what the events tell. */
  private windowChosen = false;
  private readonly windowSelect = byId<HTMLSelectElement>('timeline-window');
  private history: { events: DeviceEventItem[]; complete: boolean; at: number } | null = null;
  private readonly stateList = byId('device-state');
  private readonly timeline = byId('timeline');
  private readonly spansBody = byId<HTMLTableElement>('spans').tBodies[0] as HTMLTableSectionElement;
  private readonly alertsBody = byId<HTMLTableElement>('device-alerts').tBodies[0] as HTMLTableSectionElement;
  private readonly eventsBody = byId<HTMLTableElement>('events').tBodies[0] as HTMLTableSectionElement;

  constructor(private readonly now: () => number) {
    const select = this.windowSelect;
    select.addEventListener('change', () => {
      this.windowMs = Number(select.value);
      this.windowChosen = true;
      if (this.history) this.drawTimeline(this.history);
    });
  }

  /** Switches to another device: clears what the previous one showed. */
  show(deviceId: string): void {
    if (deviceId === this.deviceId) return;
    this.deviceId = deviceId;
    replaceContent(byId('device-title'), 'Device ', h('code', {}, deviceId));
    document.title = `${deviceId} · iot-presence`;
    for (const element of [this.stateList, this.timeline, this.spansBody, this.alertsBody, this.eventsBody])
      element.replaceChildren();
    this.history = null;
    this.windowChosen = false;
    this.stateList.setAttribute('aria-busy', 'true');
    byId('device-missing').hidden = true;
  }

  async refresh(signal: AbortSignal): Promise<void> {
    const deviceId = this.deviceId;
    const [device, history, alerts] = await Promise.all([
      getDevice(deviceId, signal),
      this.loadHistory(deviceId, signal),
      listAlerts({ deviceId, limit: MAX_LIMIT }, signal),
    ]);
    if (signal.aborted || deviceId !== this.deviceId) return;
    const now = this.now();
    const missing = byId('device-missing');
    missing.hidden = device !== null;
    if (device === null) {
      replaceContent(missing, 'The service has never seen a device with this id.');
    } else {
      this.renderState(device, now);
    }
    this.stateList.setAttribute('aria-busy', 'false');
    this.history = { ...history, at: now };
    this.drawTimeline(this.history);
    this.renderEvents(history.events.slice(0, RECENT_EVENTS), now);
    reconcileRows(
      this.alertsBody,
      alerts.items,
      (alert) => alert.alertId,
      (alert) => [
        td(alertKindBadge(alert.type)),
        td(alertWordsView(alert)),
        timeCell(alert.since, now),
        publishedCell(alert.publishedAt, now),
        td(
          sessionView(alert.sessionIdentifier),
          alert.versionNumber === null ? null : ` v${alert.versionNumber}`,
        ),
      ],
    );
    byId('device-alerts-empty').hidden = alerts.items.length > 0;
  }

  private drawTimeline(history: { events: DeviceEventItem[]; complete: boolean; at: number }): void {
    if (!this.windowChosen) {
      const choices = [...this.windowSelect.options].map((option) => Number(option.value));
      this.windowMs = fittingWindow(history.events, history.at, choices, history.complete);
      this.windowSelect.value = String(this.windowMs);
    }
    const spans = buildTimeline(history.events, history.at, {
      windowMs: this.windowMs,
      historyComplete: history.complete,
    });
    this.renderTimeline(spans, history.at);
  }

  /** Newest first, back to the first event older than the window (which says how the window began). */
  private async loadHistory(deviceId: string, signal: AbortSignal) {
    const windowStart = this.now() - DAY_MS;
    const events: DeviceEventItem[] = [];
    let cursor: string | null = null;
    let pages = 0;
    let reachedPast = false;
    do {
      const page = await listDeviceEvents(deviceId, MAX_LIMIT, cursor, signal);
      events.push(...page.items);
      cursor = page.cursor;
      pages += 1;
      reachedPast = page.items.some((event) => (event.receivedAt ?? event.at ?? 0) < windowStart);
    } while (cursor !== null && !reachedPast && pages < EVENT_PAGE_CAP);
    return { events, complete: cursor === null || reachedPast };
  }

  private renderState(device: DeviceDetail, now: number): void {
    const fact = (label: string, ...value: Array<Node | string>) =>
      h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, ...value));
    replaceContent(
      this.stateList,
      fact('Status', statusBadge(device.status)),
      fact('Since', timeView(device.since, now)),
      fact('Settled', settledView(device.settled)),
      fact('Reason', reasonView(device.disconnectReason)),
      fact('Episodes', episodesView(device.episodes)),
      fact('Abrupt', device.abrupt === null ? '—' : device.abrupt ? 'yes' : 'no'),
      fact('Session', sessionView(device.sessionIdentifier)),
      ...(device.versionNumber === null ? [] : [fact('Version', versionView(device.versionNumber))]),
      fact('Last will', lastWillView(device.lastWill, device.lastWillAt)),
      fact('Last event', timeView(device.lastEventAt, now)),
      fact('Last connected', timeView(device.lastConnectedAt, now)),
      fact('Last disconnected', timeView(device.lastDisconnectedAt, now)),
    );
  }

  private renderTimeline(spans: Span[], now: number): void {
    const windowMs = this.windowMs;
    const start = now - windowMs;
    const x = (at: number) => ((at - start) / windowMs) * 1000;
    const lastWhat = windowLabel(windowMs);
    const disconnections = spans.filter((span) => span.state === 'disconnected').length;
    const share = connectedShare(spans);
    const summary =
      share === null
        ? `No known connection state in the last ${lastWhat}.`
        : `Connected ${(share * 100).toFixed(1)}% of the known time in the last ${lastWhat}, ${disconnections} disconnected span${disconnections === 1 ? '' : 's'}.`;
    const bars = spans.map((span) =>
      svg(
        'rect',
        {
          class: `span span-${span.state}`,
          x: x(span.start).toFixed(2),
          y: 0,
          width: Math.max(0.6, x(span.end) - x(span.start)).toFixed(2),
          height: 32,
        },
        svg('title', {}, spanTitle(span)),
      ),
    );
    const ticks = [4, 3, 2, 1, 0].map((quarter) =>
      h('span', {}, quarter === 0 ? 'now' : clockTime(now - (quarter * windowMs) / 4)),
    );
    replaceContent(
      this.timeline,
      svg(
        'svg',
        {
          viewBox: '0 0 1000 32',
          preserveAspectRatio: 'none',
          role: 'img',
          'aria-label': summary,
          class: 'timeline-bar',
        },
        ...bars,
      ),
      h('div', { class: 'ticks', 'aria-hidden': 'true' }, ...ticks),
      h(
        'p',
        { class: 'legend' },
        h('span', { class: 'key key-connected', 'aria-hidden': 'true' }),
        'connected ',
        h('span', { class: 'key key-disconnected', 'aria-hidden': 'true' }),
        'disconnected ',
        h('span', { class: 'key key-unknown', 'aria-hidden': 'true' }),
        'unknown',
      ),
      h('p', { class: 'muted small', id: 'timeline-summary' }, summary),
    );
    reconcileRows(
      this.spansBody,
      [...spans].reverse(),
      (span) => `${span.start}`,
      (span) => [
        td(statusBadge(span.state)),
        td(exactTime(span.start)),
        td(span.end >= now ? 'now' : exactTime(span.end)),
        td(duration(span.end - span.start)),
        td(reasonView(span.reason)),
        td(span.takeovers ? String(span.takeovers) : '—'),
      ],
    );
  }

  private renderEvents(events: DeviceEventItem[], now: number): void {
    reconcileRows(
      this.eventsBody,
      events,
      (event) => event.eventId ?? `${event.kind}-${event.at}`,
      (event) => [
        td(h('code', {}, event.kind)),
        timeCell(event.at === null ? null : new Date(event.at).toISOString(), now),
        td(reasonView(event.disconnectReason)),
        td(sessionView(event.sessionIdentifier)),
        td(versionView(event.versionNumber)),
      ],
    );
    byId('events-empty').hidden = events.length > 0;
  }
}

function windowLabel(ms: number): string {
  if (ms % 3_600_000 === 0) return ms === 3_600_000 ? 'hour' : `${ms / 3_600_000} hours`;
  return `${Math.round(ms / 60_000)} minutes`;
}

function spanTitle(span: Span): string {
  const reason = span.reason ? ` (${span.reason})` : '';
  return `${span.state}${reason}: ${exactTime(span.start)} for ${duration(span.end - span.start)}`;
}
