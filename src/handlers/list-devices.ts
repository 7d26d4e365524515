import type { Clock } from '../domain/ports.js';
import type { DeviceQueries } from '../domain/queries.js';
import * as z from '../shared/zod.js';
import { httpShell, isoTime, json, parseOrThrow } from './shared/http.js';
import { type CursorCodec, pageQuerySchema, pageRequest, responseCursor } from './shared/paging.js';

const querySchema = z.extend(pageQuerySchema, {
  status: z.enum(['connected', 'disconnected'], { error: 'status must be connected or disconnected' }),
});

/**
 * GET /devices?status=: a page of the devices whose settled status is `status` (disconnected: the outage is
 * confirmed; a drop inside W is still listed as connected), each with its live status, since and settled flag.
 */
export function buildListDevicesHandler(wiring: {
  devices: Pick<DeviceQueries, 'listByStatus'>;
  cursors: CursorCodec;
  clock: Clock;
}) {
  return httpShell(async (event) => {
    const query = parseOrThrow(querySchema, event.queryStringParameters ?? {}, 'query');
    const scope = `devices:${query.status}`;
    const page = await wiring.devices.listByStatus(
      query.status,
      pageRequest(wiring.cursors, query, scope),
      wiring.clock.now(),
    );
    return json(200, {
      listedBy: 'settledStatus',
      items: page.items.map((item) => ({
        ...item,
        since: isoTime(item.since),
        disconnectReason: item.disconnectReason ?? null,
      })),
      cursor: responseCursor(wiring.cursors, page, scope),
    });
  });
}
