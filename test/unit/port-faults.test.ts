import { describe, expect, it } from 'vitest';
import { FaultInjector, NO_FAULTS } from '../../src/adapters/faults.js';
import type { DeviceEvent } from '../../src/domain/device-events.js';
import type { AnyAlert } from '../../src/domain/ports.js';
import { InMemoryAlertTopic, InMemoryEventLog } from '../../src/local/in-memory-ports.js';
import { PortFaults } from '../../src/local/port-faults.js';

/** Draws the given numbers in turn: below the rate strikes, above it does not. */
const draws = (...values: number[]) => {
  let next = 0;
  return () => values[next++] ?? 0.99;
};
const STRIKE = 0.01;
const MISS = 0.99;

const event: DeviceEvent = {
  kind: 'will',
  deviceId: 'port-faults-device',
  eventId: 'will:1:0000000000000000',
  receivedAt: 1,
  payload: {},
};

const alert: AnyAlert = {
  alertId: 'port-faults-device/offline/session-1/1',
  type: 'offline',
  deviceId: 'port-faults-device',
  sessionIdentifier: 'session-1',
  versionNumber: 1,
  since: 500,
  earliestAt: 500,
  decidedAt: 500,
};

describe('injected faults at the in-memory ports', () => {
  it('makes a struck DynamoDB call again, as the SDK retries it, and it takes effect once', async () => {
    // Arrange: three attempts struck, the fourth goes through.
    const injector = new FaultInjector({ ...NO_FAULTS, dynamodb: 0.5 }, draws(STRIKE, STRIKE, STRIKE, MISS));
    const faults = new PortFaults(injector);
    const log = new InMemoryEventLog({ ttlDays: 1 });

    // Act
    const outcome = await faults.dynamodb(log).append(event);

    // Assert
    expect(outcome).toBe('stored');
    expect(log.stored).toBe(1);
    expect(faults.counts()).toEqual({
      struck: { dynamodb: 3, sns: 0, crash: 0 },
      sdkRetries: 3,
      failedCalls: 0,
    });
  });

  it('fails a DynamoDB call whose four attempts are all struck, before it takes effect', async () => {
    // Arrange
    const injector = new FaultInjector(
      { ...NO_FAULTS, dynamodb: 0.5 },
      draws(STRIKE, STRIKE, STRIKE, STRIKE),
    );
    const faults = new PortFaults(injector);
    const log = new InMemoryEventLog({ ttlDays: 1 });

    // Act
    const failed = faults.dynamodb(log).append(event);

    // Assert: the SDK's retryable error, after its four attempts; nothing written, so a retry stores the event.
    await expect(failed).rejects.toMatchObject({
      message: expect.stringMatching(/^injected fault/),
      $metadata: { attempts: 4 },
    });
    expect(log.stored).toBe(0);
    expect(await log.append(event)).toBe('stored');
    expect(faults.counts()).toMatchObject({ sdkRetries: 3, failedCalls: 1 });
  });

  it('refuses a struck SNS publish at once, without retrying it, and publishes nothing', async () => {
    // Arrange: the first publish struck, the second not.
    const injector = new FaultInjector({ ...NO_FAULTS, sns: 0.5 }, draws(STRIKE, MISS));
    const faults = new PortFaults(injector);
    const topic = new InMemoryAlertTopic();
    const publisher = faults.sns(topic);

    // Act
    const refused = publisher.publish(alert, 1_000);

    // Assert
    await expect(refused).rejects.toThrow('injected fault: SNS publish failed');
    expect(topic.receive()).toEqual([]);
    await publisher.publish(alert, 2_000);
    expect(topic.receive().map((message) => message.alertId)).toEqual([alert.alertId]);
    expect(faults.counts()).toEqual({
      struck: { dynamodb: 0, sns: 1, crash: 0 },
      sdkRetries: 0,
      failedCalls: 1,
    });
  });

  it('leaves a port as it is when no fault of its kind is injected', () => {
    // Arrange
    const faults = new PortFaults(new FaultInjector({ ...NO_FAULTS, crash: 0.5 }));
    const log = new InMemoryEventLog({ ttlDays: 1 });
    const topic = new InMemoryAlertTopic();

    // Act + Assert
    expect(faults.dynamodb(log)).toBe(log);
    expect(faults.sns(topic)).toBe(topic);
  });
});
