import type { DeviceQueries } from '../domain/queries.js';
import * as z from '../shared/zod.js';
import { httpShell, isoTime, json, parseOrThrow } from './shared/http.js';
import { type CursorCodec, pageQuerySchema, pageRequest, responseCursor } from './shared/paging.js';

const querySchema = z.extend(pageQuerySchema, {
  status: z.enum(['connected', 'disconnected'], { error: 'status must be connected or disconnected' }),
});

/** GET /devices?status=: a page of the devices with that status. */
export function buildListDevicesHandler(wiring: {
  devices: Pick<DeviceQueries, 'listByStatus'>;
  cursors: CursorCodec;
}) {
  return httpShell(async (event) => {
    const query = parseOrThrow(querySchema, event.queryStringParameters ?? {}, 'query');
    const scope = `devices:${query.status}`;
    const page = await wiring.devices.listByStatus(query.status, pageRequest(wiring.cursors, query, scope));
    return json(200, {
      items: page.items.map((item) => ({
        ...item,
        since: isoTime(item.since),
        disconnectReason: item.disconnectReason ?? null,
      })),
      cursor: responseCursor(wiring.cursors, page, scope),
    });
  });
}
