import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidCursorError } from '../domain/errors.js';
import type { PageToken } from '../domain/queries.js';
import type { CursorCodec } from '../handlers/shared/paging.js';
import { parseJsonOr } from '../shared/json.js';

/**
 * Pagination cursors are opaque and tamper-proof: base64url JSON plus an HMAC over it and the query it belongs to,
 * so a cursor cannot be edited, nor replayed against another device or status.
 */
export class HmacCursorCodec implements CursorCodec {
  constructor(private readonly key: string) {}

  private sign(body: string, scope: string): string {
    return createHmac('sha256', this.key).update(scope).update('\n').update(body).digest('base64url');
  }

  encode(position: PageToken, scope: string): string {
    const body = Buffer.from(JSON.stringify(position)).toString('base64url');
    return `${body}.${this.sign(body, scope)}`;
  }

  decode(cursor: string, scope: string): PageToken {
    const [body, signature, extra] = cursor.split('.');
    if (!body || !signature || extra !== undefined || cursor.length > 4096) throw new InvalidCursorError();
    const expected = Buffer.from(this.sign(body, scope));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new InvalidCursorError();
    const position = parseJsonOr(Buffer.from(body, 'base64url').toString('utf8'), undefined);
    if (position === null || typeof position !== 'object') throw new InvalidCursorError();
    return position as PageToken;
  }
}
