import { describe, expect, it } from 'vitest';
import { isReservedDeviceId } from '../../src/domain/reserved-ids.js';

describe('device ids the stores keep their own records under', () => {
  it.each([
    ['the fleet incidents’ key', '$fleet', true],
    ['a shard of the fleet incidents', '$fleet#42', true],
    ['a candidate shard of the fleet incidents', '$fleet#candidates#3', true],
    ['a fleet counter', '$counts#7', true],
    ['a device whose id starts like the fleet key', '$fleetwood', false],
    ['an ordinary device', 'thing-1', false],
  ])('says whether %s is reserved', (_label, deviceId, reserved) => {
    // Act
    const answer = isReservedDeviceId(deviceId);
    // Assert
    expect(answer).toBe(reserved);
  });
});
