import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CURSOR_SCHEMA_VERSION,
  HmacCursorCodec,
  pageKeySchema,
  readPageToken,
} from '../../../src/adapters/cursor-codec.js';
import { InvalidCursorError } from '../../../src/domain/errors.js';
import * as z from '../../../src/shared/zod.js';

const KEY = 'test-cursor-signing-key-0123456789';
const SCOPE = 'devices:connected';
const codec = new HmacCursorCodec(KEY);
const positionSchema = z.object({ shard: z.int().check(z.gte(0), z.lt(16)), key: z.optional(pageKeySchema) });
const position = {
  shard: 3,
  key: { deviceId: 'thing-1', statusShard: 'connected#3', since: 1_793_520_000_000 },
};

/** A cursor of any payload text, signed as the codec signs (what an older or newer release would have issued). */
function signed(text: string, scope: string): string {
  const body = Buffer.from(text).toString('base64url');
  return `${body}.${createHmac('sha256', KEY).update(scope).update('\n').update(body).digest('base64url')}`;
}

describe('the page cursor', () => {
  it('reads back the page token it was given, with its schema version inside the signed payload', () => {
    // Arrange
    const cursor = codec.encode(position, SCOPE);

    // Act
    const read = readPageToken(positionSchema, codec.decode(cursor, SCOPE));

    // Assert
    expect(read).toEqual(position);
    const payload = JSON.parse(Buffer.from(cursor.split('.')[0] ?? '', 'base64url').toString('utf8'));
    expect(payload).toEqual({ schemaVersion: CURSOR_SCHEMA_VERSION, position });
  });

  it('reads a cursor issued before the schema version existed (the bare position) as version 1', () => {
    // Arrange
    const cursor = signed(JSON.stringify(position), SCOPE);

    // Act
    const read = readPageToken(positionSchema, codec.decode(cursor, SCOPE));

    // Assert
    expect(read).toEqual(position);
  });

  it.each([
    ['signed for another query', () => codec.encode(position, 'devices:disconnected')],
    [
      'signed with another key',
      () => new HmacCursorCodec('another-signing-key-0123456789').encode(position, SCOPE),
    ],
    ['of another schema version', () => signed(JSON.stringify({ schemaVersion: 2, position }), SCOPE)],
    ['whose signed payload is not an object', () => signed('[1,2]', SCOPE)],
    ['whose signed payload is not JSON', () => signed('{', SCOPE)],
    ['without a signature', () => codec.encode(position, SCOPE).split('.')[0] ?? ''],
  ])('refuses a cursor %s as invalid', (_label, cursor) => {
    // Act
    const read = () => codec.decode(cursor(), SCOPE);

    // Assert
    expect(read).toThrow(InvalidCursorError);
  });

  it('refuses, when the store reads it, a signed position that does not match its schema', () => {
    // Arrange
    const token = codec.decode(codec.encode({ shard: 99 }, SCOPE), SCOPE);

    // Act
    const read = () => readPageToken(positionSchema, token);

    // Assert
    expect(read).toThrow(InvalidCursorError);
  });
});
