import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareScalars } from '../../src/local/services/in-process-dynamodb/expressions.js';

describe('the in-process DynamoDB orders strings as DynamoDB does', () => {
  it('compares any two strings as their UTF-8 bytes compare, surrogate pairs and U+E000–U+FFFF included', () => {
    // Arrange: strings of code points from every plane, often sharing a prefix.
    const text = fc.string({ unit: 'grapheme', maxLength: 6 });
    const pairs = fc.oneof(
      fc.tuple(text, text),
      fc.tuple(text, text, text).map(([prefix, a, b]) => [prefix + a, prefix + b] as const),
    );

    // Act / Assert
    fc.assert(
      fc.property(pairs, ([a, b]) => {
        expect(Math.sign(compareScalars(a, b) ?? Number.NaN)).toBe(
          Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))),
        );
      }),
      { numRuns: 2_000 },
    );
  });
});
