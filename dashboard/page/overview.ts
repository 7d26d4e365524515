/** The fleet view: counts at a glance, the device list (filter, search, cursor pages) and the alert feed. */
import {
  getDevice,
  getFleet,
  getIncident,
  listAlerts,
  listDevices,
  listIncidents,
  MAX_LIMIT,
} from './api.js';
import {
  alertKindBadge,
  alertWordsView,
  deviceCell,
  deviceHref,
  episodesView,
  lastWillView,
  publishedCell,
  reasonView,
  settledView,
  statusBadge,
  td,
  timeCell,
  versionView,
} from './cells.js';
import { byId, h, reconcileRows, replaceContent, svg } from './dom.js';
import {
  FLEET_RECOUNT_MS,
  type FleetSummary,
  LARGE_LISTING_REQUESTS,
  listedAs,
  parseFleetRoute,
  recountDue,
  searchDevices,
  summarizeListing,
} from './fleet.js';
import { clockTime, duration, exactTime, relativeTime } from './format.js';
import { addSample, chartLines, type FleetSample, HISTORY_MS, parseSamples } from './history.js';
import {
  type AlertItem,
  type DeviceListItem,
  type DeviceStatus,
  type IncidentItem,
  reasonsText,
} from './model.js';

const PAGE_SIZE = 25;
/** The feed reads the 100 newest alerts (one request): a fleet outage's device alerts do not push its own out of sight. */
const ALERT_PAGE_SIZE = MAX_LIMIT;
/** The listing behind the counts stops after this many pages per status (10,000 devices each). */
const FLEET_PAGE_CAP = 100;
/** How often to look again for a `GET /fleet` route that was not there. */
const FLEET_ROUTE_RECHECK_MS = 60_000;
const DETAIL_LOOKUPS_AT_ONCE = 4;
/** A shown row's episodes (the listing does not carry them) are looked up again after this. */
const DETAIL_TTL_MS = 30_000;
/** Closed incidents shown, and members read per incident. */
const CLOSED_INCIDENTS = 3;
const INCIDENT_MEMBERS = 12;
const SAMPLES_KEY = 'iot-presence:fleet-samples';

type StatusFilter = 'all' | DeviceStatus;

/** Where a page of the unfiltered list starts: a status and the API's cursor within it. */
interface Position {
  status: DeviceStatus;
  cursor: string | null;
}

interface Listing {
  connected: DeviceListItem[];
  disconnected: DeviceListItem[];
  complete: boolean;
  requests: number;
  /** When it was read (epoch ms). */
  at: number;
}

/** "41 s ago (2026-12-05 01:39:23 UTC)", on one line. */
function startedText(iso: string | null, now: number): string {
  if (iso === null) return 'at an unknown time';
  const at = Date.parse(iso);
  return `${relativeTime(at, now)} (${exactTime(at)})`;
}

function firstPosition(filter: StatusFilter): Position {
  return { status: filter === 'disconnected' ? 'disconnected' : 'connected', cursor: null };
}

export class OverviewView {
  private filter: StatusFilter = 'all';
  private query = '';
  private position: Position = firstPosition('all');
  private readonly previousPositions: Position[] = [];
  private nextPosition: Position | null = null;
  private searchOffset = 0;
  private searchTotal = 0;
  private listing: Listing | null = null;
  private fleetRoute: { available: boolean; checkedAt: number } | null = null;
  private alerts: AlertItem[] = [];
  private alertsCursor: string | null = null;
  private olderAlertsLoaded = false;
  /** What GET /devices/{id} adds to a shown row (its last will, its episodes), by device and since. */
  private readonly details = new Map<string, { lastWill: unknown; episodes: string[]; at: number }>();
  /** Members of closed incidents, read once. */
  private readonly closedIncidents = new Map<string, IncidentItem>();
  /** Marks for measuring the page's load (performance.getEntriesByName). */
  private firstListRendered = false;
  private firstGlanceRendered = false;

  private readonly glance = byId('glance');
  private readonly devicesBody = byId<HTMLTableElement>('devices').tBodies[0] as HTMLTableSectionElement;
  private readonly alertsBody = byId<HTMLTableElement>('alerts').tBodies[0] as HTMLTableSectionElement;
  private readonly incidents = byId('incidents');
  private readonly chart = byId('fleet-chart');

  constructor(
    private readonly now: () => number,
    /** Asks the app to refresh the list now (after a filter or page change), reporting errors as usual. */
    private readonly runNow: (task: (signal: AbortSignal) => Promise<void>) => void,
  ) {
    const search = byId<HTMLInputElement>('device-search');
    const status = byId<HTMLSelectElement>('device-status');
    let debounce: number | undefined;
    search.addEventListener('input', () => {
      window.clearTimeout(debounce);
      debounce = window.setTimeout(() => {
        this.query = search.value.trim();
        this.resetPaging();
        this.runNow((signal) => this.refreshList(signal));
      }, 250);
    });
    byId('device-filters').addEventListener('submit', (event) => event.preventDefault());
    status.addEventListener('change', () => {
      this.filter = status.value as StatusFilter;
      this.resetPaging();
      this.runNow((signal) => this.refreshList(signal));
    });
    byId('devices-next').addEventListener('click', () => this.turnPage(1));
    byId('devices-previous').addEventListener('click', () => this.turnPage(-1));
    byId('alerts-older').addEventListener('click', () =>
      this.runNow((signal) => this.loadOlderAlerts(signal)),
    );
  }

  async refresh(signal: AbortSignal): Promise<void> {
    // The list does not wait for the counts: on a large fleet the listing behind them takes many requests.
    const results = await Promise.allSettled([
      this.searching() ? Promise.resolve() : this.refreshList(signal),
      this.refreshFleet(signal).then(() => (this.searching() ? this.refreshList(signal) : undefined)),
      this.refreshAlerts(signal),
      this.refreshIncidents(signal),
    ]);
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  private searching(): boolean {
    return this.query !== '';
  }

  private resetPaging(): void {
    this.position = firstPosition(this.filter);
    this.previousPositions.length = 0;
    this.nextPosition = null;
    this.searchOffset = 0;
  }

  private turnPage(direction: 1 | -1): void {
    if (this.searching()) {
      this.searchOffset = Math.max(0, this.searchOffset + direction * PAGE_SIZE);
    } else if (direction === 1 && this.nextPosition) {
      this.previousPositions.push(this.position);
      this.position = this.nextPosition;
    } else if (direction === -1) {
      this.position = this.previousPositions.pop() ?? firstPosition(this.filter);
    }
    this.runNow((signal) => this.refreshList(signal));
  }

  // ---------------------------------------------------------------- counts

  private async listAll(status: DeviceStatus, signal: AbortSignal) {
    const items: DeviceListItem[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await listDevices(status, MAX_LIMIT, cursor, signal);
      items.push(...page.items);
      cursor = page.cursor;
      pages += 1;
    } while (cursor !== null && pages < FLEET_PAGE_CAP);
    return { items, complete: cursor === null, pages };
  }

  private async refreshFleet(signal: AbortSignal): Promise<void> {
    let summary: FleetSummary | null = null;
    const routeDue =
      !this.fleetRoute ||
      this.fleetRoute.available ||
      this.now() - this.fleetRoute.checkedAt > FLEET_ROUTE_RECHECK_MS;
    if (routeDue) {
      const body = await getFleet(signal);
      summary = body === null ? null : parseFleetRoute(body);
      this.fleetRoute = { available: summary !== null, checkedAt: this.now() };
    }
    if (summary === null || this.searching()) {
      if (recountDue(this.listing, this.now())) {
        const [connected, disconnected] = await Promise.all([
          this.listAll('connected', signal),
          this.listAll('disconnected', signal),
        ]);
        this.listing = {
          connected: connected.items,
          disconnected: disconnected.items,
          complete: connected.complete && disconnected.complete,
          requests: connected.pages + disconnected.pages,
          at: this.now(),
        };
      }
      const current = this.listing as Listing;
      summary ??= summarizeListing(current.connected, current.disconnected, current.complete);
    }
    this.renderGlance(summary);
    if (summary.complete)
      this.recordSample({ at: this.now(), connected: summary.connected, disconnected: summary.disconnected });
  }

  // ---------------------------------------------------------------- chart

  private samples: FleetSample[] | null = null;

  private recordSample(sample: FleetSample): void {
    let stored: string | null = null;
    try {
      stored = localStorage.getItem(SAMPLES_KEY);
    } catch {
      // Storage refused (a private window): the chart covers this page's life only.
    }
    this.samples = addSample(this.samples ?? parseSamples(stored), sample);
    try {
      localStorage.setItem(SAMPLES_KEY, JSON.stringify(this.samples));
    } catch {
      // As above.
    }
    this.renderChart();
  }

  private renderChart(): void {
    const now = this.now();
    const lines = chartLines(this.samples ?? [], now, 1000, 100);
    if (!lines) return;
    const last = this.samples?.[this.samples.length - 1];
    const summary = `Connected and disconnected devices from ${clockTime(lines.from)} to now (${duration(now - lines.from)}): now ${last?.connected ?? 0} connected, ${last?.disconnected ?? 0} disconnected; at most ${lines.top}.`;
    const polylines = [
      ...lines.connected.map((points) => svg('polyline', { class: 'line-connected', points })),
      ...lines.disconnected.map((points) => svg('polyline', { class: 'line-disconnected', points })),
    ];
    const ticks = [0, 1, 2, 3, 4].map((quarter) =>
      h('span', {}, quarter === 4 ? 'now' : clockTime(lines.from + ((lines.to - lines.from) * quarter) / 4)),
    );
    replaceContent(
      this.chart,
      h('h3', {}, `The fleet over the last ${duration(Math.min(HISTORY_MS, now - lines.from))}`),
      h('p', { class: 'muted small' }, `top of the chart: ${lines.top} devices`),
      svg(
        'svg',
        { viewBox: '0 0 1000 100', preserveAspectRatio: 'none', role: 'img', 'aria-label': summary },
        ...polylines,
      ),
      h('div', { class: 'axis', 'aria-hidden': 'true' }, ...ticks),
      h(
        'p',
        { class: 'legend' },
        h('span', { class: 'key key-line-connected', 'aria-hidden': 'true' }),
        'connected ',
        h('span', { class: 'key key-line-disconnected', 'aria-hidden': 'true' }),
        'disconnected',
      ),
      h(
        'p',
        { class: 'muted small' },
        'Sampled from GET /fleet at each refresh and kept in this browser: gaps are times no dashboard page was open.',
      ),
    );
  }

  // ---------------------------------------------------------------- incidents

  private async refreshIncidents(signal: AbortSignal): Promise<void> {
    const [open, closed] = await Promise.all([
      listIncidents('open', 10, signal),
      listIncidents('closed', CLOSED_INCIDENTS, signal),
    ]);
    const withMembers = await Promise.all([
      ...open.map(
        async (incident) => (await getIncident(incident.incidentId, INCIDENT_MEMBERS, signal)) ?? incident,
      ),
      ...closed.map(async (incident) => {
        const known = this.closedIncidents.get(incident.incidentId);
        if (known) return known;
        const read = (await getIncident(incident.incidentId, INCIDENT_MEMBERS, signal)) ?? incident;
        this.closedIncidents.set(incident.incidentId, read);
        return read;
      }),
    ]);
    this.renderIncidents(withMembers);
  }

  private renderIncidents(incidents: IncidentItem[]): void {
    const now = this.now();
    if (incidents.length === 0) {
      replaceContent(
        this.incidents,
        h('p', { class: 'muted' }, 'No fleet incidents: no outage has taken many devices at once.'),
      );
      return;
    }
    replaceContent(
      this.incidents,
      ...incidents.map((incident) => {
        const open = incident.status === 'open';
        const members = incident.members ?? [];
        return h(
          'article',
          {
            class: 'incident',
            'data-incident': incident.incidentId,
            'aria-label': `Incident ${incident.incidentId}`,
          },
          h(
            'h3',
            {},
            h(
              'span',
              { class: `badge badge-${open ? 'fleet-outage' : 'fleet-recovered'}` },
              open ? 'open' : 'closed',
            ),
            ` ${incident.devices} devices offline`,
          ),
          h(
            'p',
            { class: 'small' },
            `Started ${startedText(incident.startedAt, now)}`,
            open
              ? `; ${incident.recovered} back, ${incident.stillOffline} still offline`
              : `; lasted ${duration((incident.durationSeconds ?? 0) * 1000)}, ${incident.stillOffline} still offline at the end`,
          ),
          h('p', { class: 'small' }, 'Reasons: ', reasonsText(incident.reasons) || '—'),
          members.length === 0
            ? h('p', { class: 'muted small' }, `Devices: ${incident.sampleDeviceIds.join(', ') || '—'}`)
            : h(
                'ul',
                { class: 'members', 'aria-label': 'Member devices' },
                ...members.map((member) =>
                  h(
                    'li',
                    {},
                    h('a', { href: deviceHref(member.deviceId) }, member.deviceId),
                    ` ${member.recovered ? 'back' : (member.reason ?? 'offline')}`,
                  ),
                ),
                ...(incident.devices > members.length
                  ? [h('li', { class: 'muted' }, `and ${incident.devices - members.length} more`)]
                  : []),
              ),
        );
      }),
    );
  }

  private renderGlance(summary: FleetSummary): void {
    const atLeast = summary.complete ? '' : '≥ ';
    const tile = (kind: string, label: string, value: number | null) =>
      h(
        'div',
        { class: `tile tile-${kind}` },
        h('dt', {}, label),
        h('dd', {}, value === null ? '—' : `${atLeast}${value.toLocaleString('en')}`),
      );
    const reasons =
      summary.byReason.length === 0
        ? h('p', { class: 'muted' }, 'No disconnected devices.')
        : h(
            'table',
            { class: 'data compact', id: 'reasons' },
            h('caption', { class: 'visually-hidden' }, 'Disconnected devices per reason'),
            h(
              'thead',
              {},
              h('tr', {}, h('th', { scope: 'col' }, 'Reason'), h('th', { scope: 'col' }, 'Devices')),
            ),
            h(
              'tbody',
              {},
              ...summary.byReason.map(({ reason, count }) =>
                h('tr', {}, h('th', { scope: 'row' }, reasonView(reason)), h('td', {}, `${atLeast}${count}`)),
              ),
            ),
          );
    const listing = this.listing;
    const source =
      summary.source === 'fleet-route' || !listing
        ? 'Counted by GET /fleet.'
        : `Counted from the device listing (${listing.requests} requests), ${relativeTime(listing.at, this.now())}${
            listing.requests > LARGE_LISTING_REQUESTS
              ? `; a fleet this size is recounted every ${FLEET_RECOUNT_MS / 1000} s`
              : ''
          }${summary.complete ? '.' : `; the listing stopped after ${FLEET_PAGE_CAP} pages per status.`}`;
    replaceContent(
      this.glance,
      h(
        'dl',
        { class: 'tiles' },
        tile('connected', 'Connected', summary.connected),
        tile('disconnected', 'Disconnected', summary.disconnected),
        tile('pending', 'Unsettled', summary.unsettled),
        ...(summary.inEpisode
          ? [
              tile('episode', 'In a clientId conflict', summary.inEpisode.conflict),
              tile('episode', 'Flapping', summary.inEpisode.flapping),
            ]
          : []),
        ...(summary.openIncidents === null ? [] : [tile('episode', 'Open incidents', summary.openIncidents)]),
      ),
      h('h3', {}, 'Disconnected by reason'),
      reasons,
      h('p', { class: 'muted small' }, source),
    );
    this.glance.setAttribute('aria-busy', 'false');
    if (!this.firstGlanceRendered) {
      this.firstGlanceRendered = true;
      performance.mark('iot-presence:fleet-counted');
    }
  }

  // ---------------------------------------------------------------- device list

  /** One page of the unfiltered list from the API, and where the next one starts. */
  private async loadPage(signal: AbortSignal): Promise<{ items: DeviceListItem[]; next: Position | null }> {
    const items: DeviceListItem[] = [];
    let position: Position | null = this.position;
    // "All" walks the connected devices, then the disconnected ones.
    for (let requests = 0; position && items.length < PAGE_SIZE && requests < 20; requests += 1) {
      const page = await listDevices(position.status, PAGE_SIZE - items.length, position.cursor, signal);
      items.push(...page.items);
      if (page.cursor !== null) position = { status: position.status, cursor: page.cursor };
      else if (position.status === 'connected' && this.filter === 'all')
        position = { status: 'disconnected', cursor: null };
      else position = null;
    }
    return { items, next: position };
  }

  /** Every match of the search (the page is cut from it when shown). */
  private async searchMatches(signal: AbortSignal): Promise<DeviceListItem[]> {
    // The list the API put a device in is its settled status: search within the lists the filter names.
    const lists = this.listing
      ? this.filter === 'all'
        ? [...this.listing.connected, ...this.listing.disconnected]
        : this.listing[this.filter]
      : [];
    const found = searchDevices(lists, this.query, 'all');
    const listingMayMissIt = !this.listing?.complete || found.length === 0;
    if (listingMayMissIt && !found.some((device) => device.deviceId === this.query)) {
      // The listing stopped at its cap, or the device is newer than the listing: ask for it by id.
      const exact = await getDevice(this.query, signal);
      if (exact && (this.filter === 'all' || listedAs(exact) === this.filter)) found.unshift(exact);
    }
    return found;
  }

  /** Counts list loads, so that an older answer arriving late never replaces a newer page. */
  private listLoads = 0;

  async refreshList(signal: AbortSignal): Promise<void> {
    const load = ++this.listLoads;
    let items: DeviceListItem[];
    if (this.searching()) {
      const found = await this.searchMatches(signal);
      if (load !== this.listLoads) return;
      this.searchTotal = found.length;
      if (this.searchOffset >= found.length) this.searchOffset = 0;
      items = found.slice(this.searchOffset, this.searchOffset + PAGE_SIZE);
    } else {
      const page = await this.loadPage(signal);
      if (load !== this.listLoads) return;
      this.nextPosition = page.next;
      items = page.items;
    }
    this.renderList(items);
    if (!this.firstListRendered) {
      this.firstListRendered = true;
      performance.mark('iot-presence:devices-rendered');
    }
    await this.lookUpDetails(items, signal);
  }

  private detailKey(item: DeviceListItem): string {
    return `${item.deviceId}\u0000${item.since ?? ''}`;
  }

  private lastWillOf(item: DeviceListItem): Node {
    if ('lastWill' in item) return lastWillView(item.lastWill);
    if (item.status === 'connected') return document.createTextNode('—');
    const detail = this.details.get(this.detailKey(item));
    if (!detail) return h('span', { class: 'muted' }, 'looking up…');
    return lastWillView(detail.lastWill);
  }

  private episodesOf(item: DeviceListItem): Node {
    const detail = this.details.get(this.detailKey(item));
    if (!detail) return h('span', { class: 'muted' }, 'looking up…');
    return episodesView(detail.episodes);
  }

  /** The listing has neither last will nor episodes: read them for the rows shown (again after DETAIL_TTL_MS). */
  private async lookUpDetails(items: readonly DeviceListItem[], signal: AbortSignal): Promise<void> {
    const now = this.now();
    const missing = items.filter((item) => {
      const detail = this.details.get(this.detailKey(item));
      return !detail || now - detail.at > DETAIL_TTL_MS;
    });
    if (missing.length === 0) return;
    const queue = [...missing];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const device = await getDevice(item.deviceId, signal);
        this.details.set(this.detailKey(item), {
          lastWill: device?.lastWill ?? null,
          episodes: device?.episodes ?? [],
          at: this.now(),
        });
      }
    };
    await Promise.all(Array.from({ length: DETAIL_LOOKUPS_AT_ONCE }, worker));
    this.renderList(this.shown);
  }

  private shown: DeviceListItem[] = [];

  private renderList(items: DeviceListItem[]): void {
    this.shown = items;
    const now = this.now();
    const showVersion = items.some((item) => typeof item.versionNumber === 'number');
    for (const cell of document.querySelectorAll<HTMLElement>('#devices [data-column="version"]'))
      cell.hidden = !showVersion;
    reconcileRows(
      this.devicesBody,
      items,
      (item) => item.deviceId,
      (item) => [
        deviceCell(item.deviceId),
        td(statusBadge(item.status)),
        timeCell(item.since, now),
        td(reasonView(item.disconnectReason)),
        td(settledView(item.settled)),
        td(this.episodesOf(item)),
        td(this.lastWillOf(item)),
        ...(showVersion ? [td(versionView(item.versionNumber))] : []),
      ],
    );
    this.devicesBody.setAttribute('aria-busy', 'false');
    byId('devices-empty').hidden = items.length > 0;

    const searching = this.searching();
    const pageNumber = searching
      ? Math.floor(this.searchOffset / PAGE_SIZE) + 1
      : this.previousPositions.length + 1;
    const hasNext = searching ? this.searchOffset + PAGE_SIZE < this.searchTotal : this.nextPosition !== null;
    const hasPrevious = searching ? this.searchOffset > 0 : this.previousPositions.length > 0;
    byId<HTMLButtonElement>('devices-next').disabled = !hasNext;
    byId<HTMLButtonElement>('devices-previous').disabled = !hasPrevious;
    replaceContent(byId('devices-page'), `Page ${pageNumber}`);
    const listed = this.listing ? this.listing.connected.length + this.listing.disconnected.length : 0;
    replaceContent(
      byId('devices-note'),
      searching
        ? `${this.searchTotal} device${this.searchTotal === 1 ? '' : 's'} whose id contains “${this.query}”, among the ${listed} listed for the counts.`
        : '',
    );
  }

  // ---------------------------------------------------------------- alerts

  private async refreshAlerts(signal: AbortSignal): Promise<void> {
    const page = await listAlerts({ limit: ALERT_PAGE_SIZE }, signal);
    if (this.olderAlertsLoaded) {
      const fresh = new Set(page.items.map((alert) => alert.alertId));
      this.alerts = [...page.items, ...this.alerts.filter((alert) => !fresh.has(alert.alertId))];
    } else {
      this.alerts = page.items;
      this.alertsCursor = page.cursor;
    }
    this.renderAlerts();
  }

  private async loadOlderAlerts(signal: AbortSignal): Promise<void> {
    if (this.alertsCursor === null) return;
    const page = await listAlerts({ limit: ALERT_PAGE_SIZE, cursor: this.alertsCursor }, signal);
    const known = new Set(this.alerts.map((alert) => alert.alertId));
    this.alerts.push(...page.items.filter((alert) => !known.has(alert.alertId)));
    this.alertsCursor = page.cursor;
    this.olderAlertsLoaded = true;
    this.renderAlerts();
  }

  private renderAlerts(): void {
    const now = this.now();
    reconcileRows(
      this.alertsBody,
      this.alerts,
      (alert) => alert.alertId,
      (alert) => [
        td(alertKindBadge(alert.type)),
        alert.deviceId === null
          ? td(h('span', {}, `fleet, ${alert.devices ?? 0} devices`))
          : deviceCell(alert.deviceId, false),
        td(alertWordsView(alert)),
        timeCell(alert.since, now),
        publishedCell(alert.publishedAt, now),
      ],
    );
    this.alertsBody.setAttribute('aria-busy', 'false');
    byId('alerts-empty').hidden = this.alerts.length > 0;
    byId('alerts-older').hidden = this.alertsCursor === null;
  }
}
