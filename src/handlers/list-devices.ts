import { pageKeySchema } from '../adapters/cursor-codec.js';
import type { Key } from '../adapters/dynamodb/paging.js';
import { INDEX_SHARDS } from '../adapters/shards.js';
import { productionApiPorts } from '../composition/api.js';
import type { AppPorts } from '../composition-root.js';
import * as z from '../shared/zod.js';
import { httpShell, isoTime, json, pageQuerySchema, parseOrThrow } from './shared/http.js';

const querySchema = z.extend(pageQuerySchema, {
  status: z.enum(['connected', 'disconnected'], { error: 'status must be connected or disconnected' }),
});

interface Position {
  shard: number;
  key?: Key;
}

const positionSchema: z.ZodMiniType<Position> = z.object({
  shard: z.int().check(z.gte(0), z.lt(INDEX_SHARDS)),
  key: z.optional(pageKeySchema),
});

/** GET /devices?status=: pages through the sharded status index, one query per page in the common case. */
export function buildListDevicesHandler(ports: Pick<AppPorts, 'devices' | 'cursors'>) {
  return httpShell(async (event) => {
    const query = parseOrThrow(querySchema, event.queryStringParameters ?? {}, 'query');
    const scope = `devices:${query.status}`;
    let position: Position | undefined = query.cursor
      ? ports.cursors.decode(query.cursor, scope, positionSchema)
      : { shard: 0 };
    const items = [];
    while (position && items.length < query.limit) {
      const page = await ports.devices.listByStatus(
        query.status,
        position.shard,
        query.limit - items.length,
        position.key,
      );
      items.push(...page.items);
      position = page.nextKey
        ? { shard: position.shard, key: page.nextKey }
        : position.shard + 1 < INDEX_SHARDS
          ? { shard: position.shard + 1 }
          : undefined;
    }
    return json(200, {
      items: items.map((item) => ({
        ...item,
        since: isoTime(item.since),
        disconnectReason: item.disconnectReason ?? null,
      })),
      cursor: position ? ports.cursors.encode(position, scope) : null,
    });
  });
}

export const handler = buildListDevicesHandler(productionApiPorts());
