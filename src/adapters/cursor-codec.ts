import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidCursorError } from '../domain/errors.js';
import type { PageToken } from '../domain/queries.js';
import type { CursorCodec } from '../handlers/shared/paging.js';
import { parseJsonOr } from '../shared/json.js';
import * as z from '../shared/zod.js';

export const CURSOR_SCHEMA_VERSION = 1;

/** A store's page token: a plain JSON object (the store that reads it back checks it with `readPageToken`). */
const pageTokenSchema = z.record(z.string(), z.unknown());

/** The signed payload: the page token with its schema version. */
const envelopeSchema = z.object({
  schemaVersion: z.literal(CURSOR_SCHEMA_VERSION),
  position: pageTokenSchema,
});

/** Where a DynamoDB query stopped (its LastEvaluatedKey): the key attributes, strings and numbers. */
export const pageKeySchema = z.record(z.string(), z.union([z.string(), z.number()]));

/**
 * A store's own reading of a page token it returned earlier: its position, checked with the store's schema. A token
 * that does not match (signed by a release that wrote another shape) is an invalid cursor, never trusted.
 */
export function readPageToken<T>(schema: z.ZodMiniType<T>, token: PageToken): T {
  const position = schema.safeParse(token);
  if (!position.success) throw new InvalidCursorError();
  return position.data;
}

/**
 * Pagination cursors are opaque and tamper-proof: base64url JSON plus an HMAC over it and the query it belongs to,
 * so a cursor cannot be edited, nor replayed against another device or status. Once its signature is verified, the
 * payload is still read through its schema (the envelope's version here, the position by the store that reads it):
 * a cursor signed by an older or newer release that does not match is refused as invalid, never trusted. A cursor
 * issued before the envelope existed is its bare position, and is read as version 1 when the position matches.
 */
export class HmacCursorCodec implements CursorCodec {
  constructor(private readonly key: string) {}

  private sign(body: string, scope: string): string {
    return createHmac('sha256', this.key).update(scope).update('\n').update(body).digest('base64url');
  }

  encode(position: PageToken, scope: string): string {
    const payload = { schemaVersion: CURSOR_SCHEMA_VERSION, position };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.sign(body, scope)}`;
  }

  decode(cursor: string, scope: string): PageToken {
    const [body, signature, extra] = cursor.split('.');
    if (!body || !signature || extra !== undefined || cursor.length > 4096) throw new InvalidCursorError();
    const expected = Buffer.from(this.sign(body, scope));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new InvalidCursorError();
    const payload = parseJsonOr(Buffer.from(body, 'base64url').toString('utf8'), undefined);
    const envelope = envelopeSchema.safeParse(payload);
    if (envelope.success) return envelope.data.position;
    const versioned = typeof payload === 'object' && payload !== null && 'schemaVersion' in payload;
    const legacy = pageTokenSchema.safeParse(payload);
    if (versioned || !legacy.success) throw new InvalidCursorError();
    return legacy.data;
  }
}
