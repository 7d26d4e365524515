import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  assertVerifiedPrivateParts,
  DependencyChangedError,
  installedVersion,
  type PrivatePartsCheck,
} from '../../src/local/private-parts.js';
import { VERIFIED_FAUXQS_VERSIONS } from '../../src/local/services/sns-sqs-emulator.js';

const check: PrivatePartsCheck = {
  dependency: 'somebroker',
  installed: '1.2.0',
  verified: ['1.2.0'],
  parts: { 'Broker.publish()': { value: () => undefined, kind: 'function' } },
  purpose: 'count in-flight publishes',
};

function failureOf(run: () => void): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('it did not fail');
}

describe('the start-up check of patched private parts', () => {
  it('lets a verified version with every part in place through', () => {
    // Act
    const run = () => assertVerifiedPrivateParts(check);

    // Assert
    expect(run).not.toThrow();
  });

  it('fails on another version, naming the dependency, both versions, the parts and what they are for', () => {
    // Act
    const error = failureOf(() => assertVerifiedPrivateParts({ ...check, installed: '2.0.0' }));

    // Assert
    expect(error).toBeInstanceOf(DependencyChangedError);
    expect(error.message).toContain('private parts of somebroker (Broker.publish())');
    expect(error.message).toContain('version 2.0.0 is installed, the parts were checked on 1.2.0');
    expect(error.message).toContain('count in-flight publishes');
  });

  it('fails on a verified version whose part is gone or of another kind', () => {
    // Act
    const gone = failureOf(() =>
      assertVerifiedPrivateParts({
        ...check,
        parts: { 'Broker.publish()': { value: undefined, kind: 'function' } },
      }),
    );
    const changed = failureOf(() =>
      assertVerifiedPrivateParts({ ...check, parts: { 'Broker.clients': { value: null, kind: 'object' } } }),
    );

    // Assert
    expect(gone.message).toContain('Broker.publish() should be a function but is undefined');
    expect(changed.message).toContain('Broker.clients should be an object but is null');
  });

  it('reads the installed version of a package from its package.json', () => {
    // Arrange
    const pinned = (
      JSON.parse(readFileSync('package.json', 'utf8')) as { devDependencies: Record<string, string> }
    ).devDependencies;

    // Act
    const fauxqs = installedVersion('fauxqs');

    // Assert
    expect(fauxqs).toBe(pinned.fauxqs);
    expect(VERIFIED_FAUXQS_VERSIONS).toContain(pinned.fauxqs);
  });
});
