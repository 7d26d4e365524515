import { DeviceNotFoundError, InvalidInputError } from '../domain/errors.js';
import type { Clock } from '../domain/ports.js';
import type { DeviceQueries, UptimeDayQueries } from '../domain/queries.js';
import {
  datesBetween,
  MAX_REPORT_DAYS,
  readUptime,
  type UptimeDayReport,
  type UptimeReport,
  utcDate,
} from '../domain/uptime.js';
import * as z from '../shared/zod.js';
import { httpShell, json, parseOrThrow, pathDeviceId, wholeSeconds } from './shared/http.js';

const DAY_MS = 86_400_000;

const isoDate = (name: string) =>
  z.optional(
    z.string().check(
      z.regex(/^\d{4}-\d{2}-\d{2}$/, `${name} must be a date such as 2026-11-29`),
      z.refine(
        (date) => utcDate(Date.parse(`${date}T00:00:00Z`) || 0) === date,
        `${name} is not a real date`,
      ),
    ),
  );
const rangeQuery = z.object({ from: isoDate('from'), to: isoDate('to') });

/** The days asked: `to` defaults to today, `from` to 6 days before `to`; at most MAX_REPORT_DAYS, oldest first. */
function rangeOf(query: z.infer<typeof rangeQuery>, now: number): { from: string; to: string } {
  const to = query.to ?? utcDate(now);
  const from = query.from ?? utcDate(Date.parse(to) - 6 * DAY_MS);
  if (from > to) throw new InvalidInputError('from must not be after to');
  if (datesBetween(from, to).length > MAX_REPORT_DAYS) {
    throw new InvalidInputError(`a report covers at most ${MAX_REPORT_DAYS} days`);
  }
  return { from, to };
}

const share = (connectedMs: number, disconnectedMs: number) =>
  connectedMs + disconnectedMs === 0
    ? null
    : Math.round((connectedMs / (connectedMs + disconnectedMs)) * 10_000) / 10_000;

function dayBody(day: UptimeDayReport) {
  return {
    date: day.date,
    known: day.known,
    connectedSeconds: wholeSeconds(day.connectedMs),
    disconnectedSeconds: wholeSeconds(day.disconnectedMs),
    connectedShare: share(day.connectedMs, day.disconnectedMs),
    outages: day.outages,
    longestOutageSeconds: wholeSeconds(day.longestOutageMs),
    ongoingOutage: day.ongoingOutage ?? false,
  };
}

function reportBody(deviceId: string, report: UptimeReport) {
  return {
    deviceId,
    from: report.from,
    to: report.to,
    connectedSeconds: wholeSeconds(report.connectedMs),
    disconnectedSeconds: wholeSeconds(report.disconnectedMs),
    connectedShare: share(report.connectedMs, report.disconnectedMs),
    outages: report.outages,
    longestOutageSeconds: wholeSeconds(report.longestOutageMs),
    days: report.days.map(dayBody),
  };
}

/**
 * GET /devices/{deviceId}/uptime?from=YYYY-MM-DD&to=YYYY-MM-DD: connected time and share, outages and the longest
 * one, per UTC day. Two reads whatever the device's number of events: its record, and its saved days.
 */
export function buildDeviceUptimeHandler(wiring: {
  devices: Pick<DeviceQueries, 'getUptimeStanding'>;
  uptimeDays: UptimeDayQueries;
  clock: Clock;
  settleWindowMs: number;
}) {
  return httpShell(async (event) => {
    const deviceId = pathDeviceId(event);
    const now = wiring.clock.now();
    const range = rangeOf(parseOrThrow(rangeQuery, event.queryStringParameters ?? {}, 'query'), now);
    const report = await readUptime(wiring, deviceId, range, now, wiring.settleWindowMs);
    if (!report) throw new DeviceNotFoundError(deviceId);
    return json(200, reportBody(deviceId, report));
  });
}
