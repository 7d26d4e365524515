import { alertMessage } from '../adapters/alert-message.js';
import type { Clock } from '../domain/ports.js';
import type { AlertQueries, FleetAlertPage } from '../domain/queries.js';
import * as z from '../shared/zod.js';
import { httpShell, json, parseOrThrow } from './shared/http.js';
import { deviceIdSchema } from './shared/input-guards.js';
import { type CursorCodec, pageQuerySchema, pageRequest, responseCursor } from './shared/paging.js';

const querySchema = z.extend(pageQuerySchema, { deviceId: z.optional(deviceIdSchema) });

/** GET /alerts: the alert history, newest first, for one device or for the whole fleet. */
export function buildListAlertsHandler(wiring: { ledger: AlertQueries; cursors: CursorCodec; clock: Clock }) {
  return httpShell(async (event) => {
    const query = parseOrThrow(querySchema, event.queryStringParameters ?? {}, 'query');
    const scope = query.deviceId ? `alerts:${query.deviceId}` : 'alerts:fleet';
    const request = pageRequest(wiring.cursors, query, scope);
    // A device's history is one index; only the fleet's is read day by day and says how far back it read.
    const page: FleetAlertPage = query.deviceId
      ? await wiring.ledger.listForDevice(query.deviceId, request)
      : await wiring.ledger.listFleet(request, wiring.clock.now());
    return json(200, {
      items: page.items.map((entry) => ({
        ...alertMessage(entry.alert, entry.publishedAt ?? entry.alert.decidedAt),
        publishedAt: entry.publishedAt === undefined ? null : new Date(entry.publishedAt).toISOString(),
        status: entry.status,
      })),
      cursor: responseCursor(wiring.cursors, page, scope),
      ...(page.searchedBackTo ? { searchedBackTo: page.searchedBackTo } : {}),
    });
  });
}
