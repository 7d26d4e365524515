import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../src/local/services/local-aws.js';
import {
  apiEvent,
  callApi,
  connectedMessage,
  deliverAt,
  newSession,
  startVirtualStack,
  T0,
  type VirtualStack,
} from '../fixtures/virtual-runtime.js';

let stack: VirtualStack;
let documents: DynamoDBDocumentClient;

beforeAll(async () => {
  stack = await startVirtualStack();
  documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stack.aws.dynamoEndpoint,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    }),
  );
});

afterAll(async () => {
  documents?.destroy();
  await stack?.stop();
});

async function keptRejections(at: number) {
  const { Items = [] } = await documents.send(
    new QueryCommand({
      TableName: stack.aws.env.REJECTED_TABLE,
      KeyConditionExpression: '#day = :day',
      ExpressionAttributeNames: { '#day': 'day' },
      ExpressionAttributeValues: { ':day': new Date(at).toISOString().slice(0, 10) },
    }),
  );
  return Items.filter((item) => item.receivedAt === at);
}

const valid = connectedMessage(newSession('bad-input-device', 0), T0);
const malformed: Array<[string, { topic: string; payload: unknown; clientId?: string }]> = [
  ['a payload that is not JSON', { topic: valid.topic, payload: 'not json {' }],
  ['a wrong type', { topic: valid.topic, payload: { ...valid.payload, versionNumber: 'seven' } }],
  ['a missing field', { topic: valid.topic, payload: { ...valid.payload, sessionIdentifier: undefined } }],
  ['an unknown eventType', { topic: valid.topic, payload: { ...valid.payload, eventType: 'subscribed' } }],
  [
    'a clientId over 128 bytes',
    {
      topic: `$aws/events/presence/connected/${'é'.repeat(65)}`,
      payload: { ...valid.payload, clientId: 'é'.repeat(65) },
    },
  ],
  [
    'a clientId the service keeps its fleet counters under',
    {
      topic: '$aws/events/presence/connected/$counts#3',
      payload: { ...valid.payload, clientId: '$counts#3' },
    },
  ],
  [
    'a clientId the service spreads fleet incidents under',
    {
      topic: '$aws/events/presence/connected/$fleet#7',
      payload: { ...valid.payload, clientId: '$fleet#7' },
    },
  ],
  [
    'a topic naming another client',
    { topic: '$aws/events/presence/connected/other', payload: valid.payload },
  ],
  [
    'a __proto__ key',
    { topic: valid.topic, payload: JSON.parse(`{"__proto__":{"polluted":1},"clientId":"x"}`) },
  ],
  [
    'a will whose topic names a different device than its publisher',
    { topic: 'devices/victim/will', clientId: 'attacker', payload: { state: 'forged' } },
  ],
];

describe('bad input', () => {
  it.each(malformed)('rejects %s, keeps it for inspection and changes no state', async (_label, message) => {
    // Arrange
    const at = T0 + 10_000 + malformed.findIndex(([label]) => label === _label);
    const rejectedBefore = stack.runtime.counters.rejected;

    // Act
    await deliverAt(stack, at, message);

    // Assert
    expect(stack.runtime.counters.rejected).toBe(rejectedBefore + 1);
    const kept = await keptRejections(at);
    expect(kept).toHaveLength(1);
    expect(String(kept[0]?.reason).length).toBeGreaterThan(0);
    for (const deviceId of ['bad-input-device', 'victim', 'attacker', 'other', 'x']) {
      const response = await callApi(
        stack.runtime.handlers.getDevice,
        apiEvent(`/devices/${deviceId}`, { deviceId }),
      );
      expect(response.statusCode).toBe(404);
    }
    expect(({}.constructor.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });
});
