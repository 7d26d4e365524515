import type { Page, PageRequest, PageToken } from '../../domain/queries.js';
import * as z from '../../shared/zod.js';

const LIMIT_RULE = 'limit must be a whole number from 1 to 100';
const CURSOR_RULE = 'cursor must be a cursor this API returned';

export const pageQuerySchema = z.object({
  limit: z._default(
    z.coerce
      .number({ error: LIMIT_RULE })
      .check(
        z.int({ error: LIMIT_RULE }),
        z.gte(1, { error: LIMIT_RULE }),
        z.lte(100, { error: LIMIT_RULE }),
      ),
    25,
  ),
  cursor: z.optional(
    z.string({ error: CURSOR_RULE }).check(z.minLength(1, CURSOR_RULE), z.maxLength(4096, CURSOR_RULE)),
  ),
});

/** Signs a store's page token into the cursor a client holds, bound to the query (`scope`) it belongs to. */
export interface CursorCodec {
  encode(position: PageToken, scope: string): string;
  /** Throws InvalidCursorError for a cursor this API did not sign for this scope. */
  decode(cursor: string, scope: string): PageToken;
}

/** The page a client asks for: its size, and where its cursor (checked against `scope`) says to resume. */
export function pageRequest(
  cursors: CursorCodec,
  query: { limit: number; cursor?: string | undefined },
  scope: string,
): PageRequest {
  return { limit: query.limit, after: query.cursor ? cursors.decode(query.cursor, scope) : undefined };
}

/** The cursor of the next page, or null on the last one. */
export function responseCursor(cursors: CursorCodec, page: Page<unknown>, scope: string): string | null {
  return page.next ? cursors.encode(page.next, scope) : null;
}
