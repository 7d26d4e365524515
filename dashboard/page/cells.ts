/** Table cells and small pieces of markup shared by the views. */
import { h } from './dom.js';
import { duration, exactTime, relativeTime, shortId } from './format.js';
import { type AlertItem, alertKindLabel, alertWords } from './model.js';

export function deviceHref(deviceId: string): string {
  return `#/device/${encodeURIComponent(deviceId)}`;
}

export function td(...children: Array<Node | string | null>): HTMLTableCellElement {
  return h('td', {}, ...children);
}

export function deviceCell(deviceId: string, header = true): HTMLTableCellElement {
  const link = h('a', { href: deviceHref(deviceId), class: 'device-link' }, deviceId);
  return header ? h('th', { scope: 'row' }, link) : h('td', {}, link);
}

/** A status badge: the word carries the meaning, the colour only repeats it. */
export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge badge-${status}` }, h('span', { 'aria-hidden': 'true' }, '● '), status);
}

/** Relative time with the exact time under it ("3 min ago" / "2026-11-22 23:54:25 UTC+01:00"). */
export function timeCell(iso: string | null, now: number): HTMLTableCellElement {
  return h('td', {}, timeView(iso, now));
}

export function timeView(iso: string | null, now: number): Node {
  if (iso === null) return document.createTextNode('—');
  const at = Date.parse(iso);
  const exact = exactTime(at);
  return h(
    'span',
    { class: 'when' },
    h('time', { datetime: iso }, relativeTime(at, now)),
    h('span', { class: 'exact' }, exact),
  );
}

/** When SNS accepted the alert; an alert decided but not yet published (the ledger is its outbox) says so. */
export function publishedCell(publishedAt: string | null, now: number): HTMLTableCellElement {
  return publishedAt === null
    ? h('td', {}, h('span', { class: 'badge badge-pending' }, 'not yet'))
    : timeCell(publishedAt, now);
}

export function reasonView(reason: string | null): Node {
  return reason === null ? document.createTextNode('—') : h('code', { class: 'reason' }, reason);
}

export function settledView(settled: boolean): Node {
  return settled
    ? document.createTextNode('yes')
    : h('span', { class: 'badge badge-pending' }, 'no, within W');
}

/** The last will: "—", or a disclosure with its payload. */
export function lastWillView(lastWill: unknown, lastWillAt: string | null = null): Node {
  if (lastWill === null || lastWill === undefined) return document.createTextNode('—');
  const summary = lastWillAt ? `yes, ${exactTime(Date.parse(lastWillAt))}` : 'yes';
  return h(
    'details',
    { class: 'will' },
    h('summary', {}, summary),
    h('pre', {}, typeof lastWill === 'string' ? lastWill : JSON.stringify(lastWill, null, 2)),
  );
}

export function sessionView(sessionIdentifier: string | null): Node {
  if (sessionIdentifier === null) return document.createTextNode('—');
  return h('code', { title: sessionIdentifier }, shortId(sessionIdentifier));
}

export function versionView(versionNumber: number | null | undefined): string {
  return typeof versionNumber === 'number' ? String(versionNumber) : '—';
}

/** An alert's kind, in words, as a badge. */
export function alertKindBadge(type: string): HTMLElement {
  return h('span', { class: `badge badge-${type}` }, alertKindLabel(type));
}

/** What the alert says, in its own kind of sentence. */
export function alertWordsView(alert: AlertItem): Node {
  return h('span', { class: 'alert-words' }, alertWords(alert, duration));
}

/** A device's open episodes as badges, or "none". */
export function episodesView(episodes: readonly string[]): Node {
  if (episodes.length === 0) return document.createTextNode('none');
  return h(
    'span',
    {},
    ...episodes.map((episode) =>
      h('span', { class: `badge episode badge-${episode}` }, alertKindLabel(episode)),
    ),
  );
}
