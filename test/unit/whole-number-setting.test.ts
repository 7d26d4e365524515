import { describe, expect, it } from 'vitest';
import { ConfigurationError, wholeNumberSetting } from '../../src/config.js';

describe('a whole-number setting of a local tool', () => {
  it('is undefined when unset or blank, so that the tool applies its default', () => {
    expect(wholeNumberSetting('HTTP_PORT', undefined, 0, 65_535)).toBeUndefined();
    expect(wholeNumberSetting('HTTP_PORT', '  ', 0, 65_535)).toBeUndefined();
  });

  it('reads a whole number within its range', () => {
    expect(wholeNumberSetting('HTTP_PORT', '0', 0, 65_535)).toBe(0);
    expect(wholeNumberSetting('SETTLE_WINDOW_SECONDS', ' 120 ', 1)).toBe(120);
  });

  it.each(['abc', '1.5', '-1', '65536'])('refuses "%s", naming the setting and its range', (raw) => {
    expect(() => wholeNumberSetting('HTTP_PORT', raw, 0, 65_535)).toThrow(
      new ConfigurationError(`HTTP_PORT must be a whole number from 0 to 65535, not "${raw}"`),
    );
  });
});
