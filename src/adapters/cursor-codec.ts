import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidCursorError } from '../domain/errors.js';
import * as z from '../shared/zod.js';

export const CURSOR_SCHEMA_VERSION = 1;

/** Where a DynamoDB query stopped (its LastEvaluatedKey): the key attributes, strings and numbers. */
export const pageKeySchema = z.record(z.string(), z.union([z.string(), z.number()]));

/** The signed payload: the position with its schema version. */
const envelopeSchema = z.object({ schemaVersion: z.literal(CURSOR_SCHEMA_VERSION), position: z.unknown() });

/**
 * Pagination cursors are opaque and tamper-proof: base64url JSON plus an HMAC over it and the query it belongs to,
 * so a cursor cannot be edited, nor replayed against another device or status. Once its signature is verified, the
 * payload is still read through its schema (the envelope's version, then the position's own schema): a cursor signed
 * by an older or newer release that does not match is refused as invalid, never trusted. A cursor issued before the
 * envelope existed is its bare position, and is read as version 1 when the position matches.
 */
export class CursorCodec {
  constructor(private readonly key: string) {}

  private sign(body: string, scope: string): string {
    return createHmac('sha256', this.key).update(scope).update('\n').update(body).digest('base64url');
  }

  encode(position: unknown, scope: string): string {
    const payload = { schemaVersion: CURSOR_SCHEMA_VERSION, position };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.sign(body, scope)}`;
  }

  decode<T>(cursor: string, scope: string, positionSchema: z.ZodMiniType<T>): T {
    const [body, signature, extra] = cursor.split('.');
    if (!body || !signature || extra !== undefined || cursor.length > 4096) throw new InvalidCursorError();
    const expected = Buffer.from(this.sign(body, scope));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new InvalidCursorError();
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw new InvalidCursorError();
    }
    const envelope = envelopeSchema.safeParse(payload);
    const versioned = typeof payload === 'object' && payload !== null && 'schemaVersion' in payload;
    if (versioned && !envelope.success) throw new InvalidCursorError();
    const position = positionSchema.safeParse(envelope.success ? envelope.data.position : payload);
    if (!position.success) throw new InvalidCursorError();
    return position.data;
  }
}
