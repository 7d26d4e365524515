import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../src/local/lambda-context.js';
import { LOCAL_CREDENTIALS } from '../../src/local/services/local-aws.js';
import { apiEvent, callApi, startVirtualStack, type VirtualStack } from '../fixtures/virtual-runtime.js';

let stack: VirtualStack;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  stack = await startVirtualStack();
  dynamo = new DynamoDBClient({
    endpoint: stack.aws.dynamoEndpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
});

afterAll(async () => {
  dynamo?.destroy();
  await stack?.stop();
});

/** Test-only table counts: the test may scan, the service never does. */
async function itemCount(table: string): Promise<number> {
  const { Count = 0 } = await dynamo.send(new ScanCommand({ TableName: table, Select: 'COUNT' }));
  return Count;
}

const hostileKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'clientId',
  'eventType',
  'topic',
  '',
);
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 3 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.constant('x'.repeat(300_000)),
    fc.dictionary(fc.oneof(hostileKey, fc.string()), tie('value'), { maxKeys: 4 }),
    fc.array(tie('value'), { maxLength: 3 }),
  ),
})).value;
const deepNesting = fc
  .integer({ min: 65, max: 5_000 })
  .map((depth) => JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));
const presenceLike = fc.record(
  {
    clientId: fc.oneof(fc.string(), fc.constant('x'.repeat(200)), fc.constant('bad\u0000id'), fc.integer()),
    timestamp: fc.oneof(fc.integer(), fc.string(), fc.double()),
    eventType: fc.oneof(
      fc.constantFrom('connected', 'disconnected', 'connect_failed', 'subscribed'),
      fc.string(),
    ),
    sessionIdentifier: fc.oneof(fc.uuid(), fc.integer(), fc.constant('')),
    versionNumber: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.string(), fc.constant(null)),
    disconnectReason: fc.oneof(fc.constantFrom('CONNECTION_LOST', 'NOT_A_REASON'), fc.integer()),
    clientInitiatedDisconnect: fc.oneof(fc.boolean(), fc.string()),
    topic: fc.oneof(fc.constant('$aws/events/presence/connected/other'), fc.string()),
  },
  { requiredKeys: [] },
);
const anyInput = fc.oneof(hostileJson, deepNesting, presenceLike, fc.constant(undefined), fc.constant(null));

describe('bad input never crashes a handler uncontrolled and never changes state', () => {
  it('rejects arbitrary ingest input with a reason, keeps it, and writes no event or device', async () => {
    // Arrange
    const { runtime } = stack;
    const { buildIngestPresenceHandler } = await import('../../src/handlers/ingest-presence.js');
    const { buildIngestDeviceMessageHandler } = await import('../../src/handlers/ingest-device-message.js');
    const ingestPresence = buildIngestPresenceHandler(runtime.ports);
    const ingestDeviceMessage = buildIngestDeviceMessageHandler(runtime.ports);
    const eventsBefore = await itemCount(stack.aws.env.EVENTS_TABLE as string);

    // Act + Assert
    await fc.assert(
      fc.asyncProperty(anyInput, fc.boolean(), async (input, presence) => {
        const handler = presence ? ingestPresence : ingestDeviceMessage;
        const result = (await handler(input as never, lambdaContext('fuzz'))) as {
          outcome: string;
          reason?: string;
        };
        expect(result.outcome).toBe('rejected');
        expect(result.reason?.length).toBeGreaterThan(0);
      }),
      { numRuns: 150 },
    );
    expect(await itemCount(stack.aws.env.EVENTS_TABLE as string)).toBe(eventsBefore);
    expect(await itemCount(stack.aws.env.DEVICES_TABLE as string)).toBe(0);
    expect(await itemCount(stack.aws.env.REJECTED_TABLE as string)).toBeGreaterThan(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers every arbitrary API parameter with a JSON status and a readable reason, never a crash or a stack trace', async () => {
    // Arrange
    const { handlers } = stack.runtime;
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constant('__proto__'),
      fc.constant('-1'),
    );

    // Act + Assert
    await fc.assert(
      fc.asyncProperty(text, text, text, text, async (deviceId, limit, cursor, status) => {
        for (const [handler, event] of [
          [handlers.getDevice, apiEvent('/devices/x', { deviceId })],
          [handlers.listDevices, apiEvent('/devices', {}, { status, limit, cursor })],
          [handlers.listDeviceEvents, apiEvent('/devices/x/events', { deviceId }, { limit, cursor })],
          [handlers.listAlerts, apiEvent('/alerts', {}, { deviceId, limit, cursor })],
        ] as const) {
          const response = await callApi(handler, event);
          expect([200, 400, 404]).toContain(response.statusCode);
          if (response.statusCode !== 200) expect(Object.keys(response.body)).toEqual(['error']);
          // A refusal is a sentence about the request, never the validator's own wording.
          if (response.statusCode === 400) {
            expect(response.body.error).toMatch(/^(deviceId|limit|cursor|status) (must|is) /);
            expect(response.body.error).not.toMatch(/Invalid input|Too (big|small)|expected/);
          }
          expect(JSON.stringify(response.body)).not.toMatch(/\.ts:\d+|at [A-Za-z]+ \(/);
        }
      }),
      { numRuns: 100 },
    );
    expect(await itemCount(stack.aws.env.DEVICES_TABLE as string)).toBe(0);
  });
});
