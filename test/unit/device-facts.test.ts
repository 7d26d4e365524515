import { describe, expect, it } from 'vitest';
import { applyEvent, emptyFacts, MAX_KEPT_PAYLOAD_BYTES } from '../../src/domain/device-facts.js';
import { connectedEvent, connectFailedEvent, willEvent } from '../../src/local/in-memory-ports.js';

const T = 1_793_520_000_000;
const DEVICE = 'thing-1';

describe('applyEvent', () => {
  it('changes nothing for a failed connect, not even the time of the last event', () => {
    // Arrange
    const facts = applyEvent(
      emptyFacts(DEVICE),
      connectedEvent({ deviceId: DEVICE, sessionIdentifier: 's', versionNumber: 1, receivedAt: T }),
    );

    // Act
    const after = applyEvent(facts, connectFailedEvent({ deviceId: DEVICE, receivedAt: T + 1_000 }));

    // Assert
    expect(after).toBe(facts);
  });

  it('keeps a will payload larger than the kept size as its size and a preview', () => {
    // Arrange
    const payload = { blob: 'x'.repeat(MAX_KEPT_PAYLOAD_BYTES) };
    const text = JSON.stringify(payload);

    // Act
    const facts = applyEvent(emptyFacts(DEVICE), willEvent({ deviceId: DEVICE, receivedAt: T, payload }));

    // Assert
    expect(facts.wills[0]?.payload).toEqual({
      truncated: true,
      bytes: text.length,
      preview: text.slice(0, 256),
    });
  });

  it('keeps a will delivered again once, moving only the time of the last event', () => {
    // Arrange
    const will = willEvent({ deviceId: DEVICE, receivedAt: T });
    const facts = applyEvent(emptyFacts(DEVICE), will);

    // Act
    const again = applyEvent(facts, { ...will, receivedAt: T + 5_000 });

    // Assert
    expect(again).toEqual({ ...facts, lastEventAt: T + 5_000 });
  });

  it('keeps a will without a payload as it came', () => {
    // Arrange
    const will = { ...willEvent({ deviceId: DEVICE, receivedAt: T }), payload: undefined };

    // Act
    const facts = applyEvent(emptyFacts(DEVICE), will);

    // Assert
    expect(facts.wills).toHaveLength(1);
    expect(facts.wills[0]?.payload).toBeUndefined();
  });
});
