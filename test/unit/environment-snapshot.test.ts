import { afterEach, describe, expect, it } from 'vitest';
import { snapshotEnvironment } from '../../src/local/environment-snapshot.js';

const real = process.env;

afterEach(() => {
  process.env = real;
  delete real.SNAPSHOT_TEST_WRITTEN;
  delete real.SNAPSHOT_TEST_REMOVED;
});

describe('the environment snapshot of an in-memory replay', () => {
  it('reads as the environment did, from a plain object, until it is given back', () => {
    real.SNAPSHOT_TEST_REMOVED = 'before';
    const giveBack = snapshotEnvironment();
    expect(process.env).not.toBe(real);
    expect(process.env.SNAPSHOT_TEST_REMOVED).toBe('before');
    giveBack();
    expect(process.env).toBe(real);
  });

  it('carries what was written and removed meanwhile back to the real environment', () => {
    real.SNAPSHOT_TEST_REMOVED = 'before';
    const giveBack = snapshotEnvironment();
    process.env.SNAPSHOT_TEST_WRITTEN = 'written';
    delete process.env.SNAPSHOT_TEST_REMOVED;
    expect(real.SNAPSHOT_TEST_WRITTEN).toBeUndefined();
    giveBack();
    expect(real.SNAPSHOT_TEST_WRITTEN).toBe('written');
    expect(real.SNAPSHOT_TEST_REMOVED).toBeUndefined();
  });

  it('stays until the last of overlapping replays gives it back, each giving back once', () => {
    const first = snapshotEnvironment();
    const second = snapshotEnvironment();
    const snapshot = process.env;
    first();
    first();
    expect(process.env).toBe(snapshot);
    second();
    expect(process.env).toBe(real);
  });
});
