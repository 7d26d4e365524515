import { pageKeySchema } from '../adapters/cursor-codec.js';
import { productionApiPorts } from '../composition/api.js';
import type { AppPorts } from '../composition-root.js';
import { DeviceNotFoundError } from '../domain/errors.js';
import { httpShell, isoTime, json, pageQuerySchema, parseOrThrow, pathDeviceId } from './shared/http.js';

/**
 * GET /devices/{deviceId}/events: the stored raw events, newest first; 404 for a device never seen, as
 * GET /devices/{deviceId} answers. Only a first page without events costs the extra read of the device.
 */
export function buildListDeviceEventsHandler(
  ports: Pick<AppPorts, 'eventLog' | 'cursors' | 'devices' | 'clock'>,
) {
  return httpShell(async (event) => {
    const deviceId = pathDeviceId(event);
    const query = parseOrThrow(pageQuerySchema, event.queryStringParameters ?? {}, 'query');
    const scope = `events:${deviceId}`;
    const startKey = query.cursor ? ports.cursors.decode(query.cursor, scope, pageKeySchema) : undefined;
    const page = await ports.eventLog.listNewestFirst(deviceId, { limit: query.limit, startKey });
    if (page.items.length === 0 && !startKey && !(await ports.devices.getView(deviceId, ports.clock.now()))) {
      throw new DeviceNotFoundError(deviceId);
    }
    return json(200, {
      items: page.items.map(({ event: stored, raw }) => ({
        ...stored,
        receivedAt: isoTime(stored.receivedAt),
        raw: raw === undefined ? null : safeJson(raw),
      })),
      cursor: page.nextKey ? ports.cursors.encode(page.nextKey, scope) : null,
    });
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export const handler = buildListDeviceEventsHandler(productionApiPorts());
