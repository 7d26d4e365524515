import { alertMessage } from '../adapters/alert-message.js';
import { pageKeySchema } from '../adapters/cursor-codec.js';
import { utcDay } from '../adapters/dynamodb/alert-ledger.js';
import type { Key } from '../adapters/dynamodb/paging.js';
import { productionApiPorts } from '../composition/api.js';
import type { AppPorts } from '../composition-root.js';
import * as z from '../shared/zod.js';
import { httpShell, json, pageQuerySchema, parseOrThrow } from './shared/http.js';
import { deviceIdSchema } from './shared/input-guards.js';

const querySchema = z.extend(pageQuerySchema, { deviceId: z.optional(deviceIdSchema) });
const DAY_MS = 86_400_000;
/**
 * A fleet-wide page walks back over empty days within the one request, up to the alert retention and at most this
 * many days (each day is one small query), so that a page is empty only when no older alert can exist. With a
 * retention longer than this, a year without alerts ends the page early: its `searchedBackTo` says how far it read.
 */
const MAX_DAYS_PER_PAGE = 366;

interface FleetPosition {
  day: string;
  key?: Key;
}

const fleetPositionSchema: z.ZodMiniType<FleetPosition> = z.object({
  day: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/)),
  key: z.optional(pageKeySchema),
});

/** GET /alerts: the ledger, newest first, for one device or for the whole fleet day by day. */
export function buildListAlertsHandler(ports: Pick<AppPorts, 'ledger' | 'cursors' | 'clock' | 'config'>) {
  return httpShell(async (event) => {
    const query = parseOrThrow(querySchema, event.queryStringParameters ?? {}, 'query');
    const entries = [];
    let cursor: string | null = null;
    let searchedBackTo: string | undefined;
    if (query.deviceId) {
      const scope = `alerts:${query.deviceId}`;
      const startKey = query.cursor ? ports.cursors.decode(query.cursor, scope, pageKeySchema) : undefined;
      const page = await ports.ledger.listForDevice(query.deviceId, query.limit, startKey);
      entries.push(...page.items);
      cursor = page.nextKey ? ports.cursors.encode(page.nextKey, scope) : null;
    } else {
      const scope = 'alerts:fleet';
      const oldestDay = utcDay(ports.clock.now() - ports.config.ALERT_TTL_DAYS * DAY_MS);
      let position: FleetPosition | undefined = query.cursor
        ? ports.cursors.decode(query.cursor, scope, fleetPositionSchema)
        : { day: utcDay(ports.clock.now()) };
      for (let days = 0; position && entries.length < query.limit && days < MAX_DAYS_PER_PAGE; ) {
        const page = await ports.ledger.listForDay(position.day, query.limit - entries.length, position.key);
        entries.push(...page.items);
        searchedBackTo = position.day;
        if (page.nextKey) {
          position = { day: position.day, key: page.nextKey };
        } else {
          const previousDay = utcDay(Date.parse(`${position.day}T00:00:00Z`) - DAY_MS);
          position = previousDay >= oldestDay ? { day: previousDay } : undefined;
          days += 1;
        }
      }
      cursor = position ? ports.cursors.encode(position, scope) : null;
    }
    return json(200, {
      items: entries.map((entry) => ({
        ...alertMessage(entry.alert, entry.publishedAt ?? entry.alert.decidedAt),
        publishedAt: entry.publishedAt === undefined ? null : new Date(entry.publishedAt).toISOString(),
        status: entry.status,
      })),
      cursor,
      ...(searchedBackTo ? { searchedBackTo } : {}),
    });
  });
}

export const handler = buildListAlertsHandler(productionApiPorts());
