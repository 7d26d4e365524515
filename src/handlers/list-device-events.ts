import { DeviceNotFoundError } from '../domain/errors.js';
import type { Clock } from '../domain/ports.js';
import type { DeviceQueries, EventQueries } from '../domain/queries.js';
import { parseJsonOr } from '../shared/json.js';
import { httpShell, isoTime, json, parseOrThrow, pathDeviceId } from './shared/http.js';
import { type CursorCodec, pageQuerySchema, pageRequest, responseCursor } from './shared/paging.js';

/**
 * GET /devices/{deviceId}/events: the stored raw events, newest first; 404 for a device never seen, as
 * GET /devices/{deviceId} answers. Only a first page without events costs the extra read of the device.
 */
export function buildListDeviceEventsHandler(wiring: {
  eventLog: EventQueries;
  devices: Pick<DeviceQueries, 'getView'>;
  cursors: CursorCodec;
  clock: Clock;
}) {
  return httpShell(async (event) => {
    const deviceId = pathDeviceId(event);
    const query = parseOrThrow(pageQuerySchema, event.queryStringParameters ?? {}, 'query');
    const scope = `events:${deviceId}`;
    const request = pageRequest(wiring.cursors, query, scope);
    const page = await wiring.eventLog.listNewestFirst(deviceId, request);
    if (
      page.items.length === 0 &&
      !request.after &&
      !(await wiring.devices.getView(deviceId, wiring.clock.now()))
    ) {
      throw new DeviceNotFoundError(deviceId);
    }
    return json(200, {
      items: page.items.map(({ event: stored, raw }) => ({
        ...stored,
        receivedAt: isoTime(stored.receivedAt),
        // Raw input that is not JSON is shown as the text it was.
        raw: raw === undefined ? null : parseJsonOr(raw, raw),
      })),
      cursor: responseCursor(wiring.cursors, page, scope),
    });
  });
}
