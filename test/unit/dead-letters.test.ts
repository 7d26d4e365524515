import { describe, expect, it } from 'vitest';
import { redriveTargets } from '../../src/adapters/dead-letters.js';

const topics = { willTopicFilter: 'devices/+/will', birthTopicFilter: 'devices/+/birth' };
const NOW = 1_793_520_000_000;

describe('redriveTargets', () => {
  it('sends a failed asynchronous invocation back to the function that failed, with its payload', () => {
    // Arrange
    const record = {
      requestContext: { functionArn: 'arn:aws:lambda:eu-west-1:1:function:iot-presence-prod-ingestPresence' },
      requestPayload: { clientId: 'd1', eventType: 'connected' },
      responseContext: { functionError: 'Unhandled' },
    };

    // Act
    const targets = redriveTargets(JSON.stringify(record), topics, NOW);

    // Assert
    expect(targets).toEqual([{ target: 'ingestPresence', event: record.requestPayload }]);
  });

  it("applies the rule's projection again to the original payload of a rule error action", () => {
    // Arrange
    const payload = { state: { reported: { last_will: 'yes' } } };
    const record = {
      ruleName: 'WillRule',
      topic: 'devices/d7/will',
      clientId: 'd7',
      base64OriginalPayload: Buffer.from(JSON.stringify(payload)).toString('base64'),
      failures: [{ failedAction: 'LambdaAction', errorMessage: 'throttled' }],
    };

    // Act
    const targets = redriveTargets(JSON.stringify(record), topics, NOW);

    // Assert
    expect(targets).toEqual([
      {
        target: 'ingestDeviceMessage',
        event: {
          payloadBase64: record.base64OriginalPayload,
          clientId: 'd7',
          topic: 'devices/d7/will',
          receivedAt: NOW,
        },
      },
    ]);
  });

  it.each([
    ['not json'],
    ['{"something":"else"}'],
    [JSON.stringify({ requestContext: { functionArn: 'arn:x:other' }, requestPayload: {} })],
  ])('does not understand %s, so the message stays in the queue', (body) => {
    expect(redriveTargets(body, topics, NOW)).toBeUndefined();
  });
});
