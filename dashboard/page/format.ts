/** Time and text formatting of the page. Pure: no DOM. */

/** "just now", "42 s ago", "5 min ago", "3 h 12 min ago", "2 d 4 h ago"; "in 5 s" for times ahead (clock skew). */
export function relativeTime(at: number, now: number): string {
  const seconds = Math.round((now - at) / 1000);
  if (Math.abs(seconds) < 2) return 'just now';
  if (seconds < 0) return `in ${duration(-seconds * 1000)}`;
  return `${duration(seconds * 1000)} ago`;
}

/** A duration rounded to its two largest units: "42 s", "5 min 3 s", "3 h 12 min", "2 d 4 h". */
export function duration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3_600);
  const minutes = Math.floor((total % 3_600) / 60);
  const seconds = total % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  if (minutes > 0) return seconds > 0 ? `${minutes} min ${seconds} s` : `${minutes} min`;
  return `${seconds} s`;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** Local time as "2026-11-22 23:54:25 UTC+01:00": unambiguous, sortable, and the same in every locale. */
export function exactTime(at: number, offsetMinutes = -new Date(at).getTimezoneOffset()): string {
  const local = new Date(at + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const offset = Math.abs(offsetMinutes);
  const date = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const zone = offset === 0 ? 'UTC' : `UTC${sign}${pad(Math.floor(offset / 60))}:${pad(offset % 60)}`;
  return `${date} ${time} ${zone}`;
}

/** Clock time only, "23:54" (local), for timeline ticks. */
export function clockTime(at: number): string {
  const date = new Date(at);
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The first characters of a session identifier (a UUID): enough to tell sessions apart. */
export function shortId(id: string | null, length = 8): string {
  if (id === null) return '—';
  return id.length > length ? `${id.slice(0, length)}…` : id;
}
