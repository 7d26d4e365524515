import { Readable } from 'node:stream';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clientSettings } from '../../../src/adapters/aws-client-options.js';
import { DynamoDbAlertLedger } from '../../../src/adapters/dynamodb/alert-ledger.js';
import { DynamoDbDeviceStore } from '../../../src/adapters/dynamodb/device-store.js';
import { encodeEventItem } from '../../../src/adapters/dynamodb/event-item.js';
import { DynamoDbEventLog } from '../../../src/adapters/dynamodb/event-log.js';
import { encodeLedgerEntry } from '../../../src/adapters/dynamodb/ledger-entry.js';
import { logger } from '../../../src/adapters/observability.js';
import { emptyFacts } from '../../../src/domain/device-facts.js';
import type { Alert } from '../../../src/domain/ports.js';
import { DEFAULT_SETTINGS } from '../../../src/domain/settings.js';
import { connectedEvent } from '../../../src/local/in-memory-ports.js';

const NOW = 1_793_520_000_000;
const event = connectedEvent({
  deviceId: 'thing-1',
  sessionIdentifier: 's-1',
  versionNumber: 1,
  receivedAt: NOW,
});
const alert: Alert = {
  alertId: 'thing-1/offline/s-1',
  type: 'offline',
  deviceId: 'thing-1',
  sessionIdentifier: 's-1',
  since: NOW,
  earliestAt: NOW,
  decidedAt: NOW,
};

const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
const throttled = () =>
  Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
    name: 'ProvisionedThroughputExceededException',
  });

function mockedDocumentClient() {
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  return { dynamo, mock: mockClient(dynamo) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('conditional writes that lose', () => {
  it('answers a conflict when another writer changed the device since it was read', async () => {
    // Arrange
    const { dynamo, mock } = mockedDocumentClient();
    mock.on(PutCommand).rejects(conditionFailed());
    const store = new DynamoDbDeviceStore(dynamo, 'devices', DEFAULT_SETTINGS);

    // Act
    const result = await store.commit({
      deviceId: 'thing-1',
      facts: emptyFacts('thing-1'),
      outbox: [],
      expectedRevision: 7,
      now: NOW,
    });

    // Assert
    expect(result).toEqual({ status: 'conflict' });
    expect(mock.commandCalls(PutCommand)[0]?.args[0].input).toMatchObject({
      ConditionExpression: 'revision = :expected',
      ExpressionAttributeValues: { ':expected': 7 },
      Item: { revision: 8 },
    });
  });

  it('recognises a duplicate delivery of an event already in the log', async () => {
    // Arrange
    const { dynamo, mock } = mockedDocumentClient();
    mock.on(PutCommand).rejects(conditionFailed());

    // Act
    const result = await new DynamoDbEventLog(dynamo, 'events', 30).append(event);

    // Assert
    expect(result).toBe('duplicate');
  });

  it('takes an alert already in the ledger as recorded, and lets any other failure through', async () => {
    // Arrange
    const { dynamo, mock } = mockedDocumentClient();
    const ledger = new DynamoDbAlertLedger(dynamo, 'alerts', 90);
    mock.on(PutCommand).rejectsOnce(conditionFailed()).rejectsOnce(throttled());

    // Act
    const again = await ledger.record(alert, NOW).then(
      () => 'recorded',
      (error: Error) => error.name,
    );
    const failing = ledger.record(alert, NOW);

    // Assert
    expect(again).toBe('recorded');
    await expect(failing).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
  });
});

describe('pages with an item that cannot be read', () => {
  it("lists a device's events without the damaged item, reporting its key, and keeps the page's cursor", async () => {
    // Arrange
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const { dynamo, mock } = mockedDocumentClient();
    const good = encodeEventItem(event, undefined, 0);
    mock.on(QueryCommand).resolves({
      Items: [good, { ...good, eventKey: 'damaged', event: '{' }],
      LastEvaluatedKey: { deviceId: 'thing-1', eventKey: 'damaged' },
    });

    // Act
    const page = await new DynamoDbEventLog(dynamo, 'events', 30).listNewestFirst('thing-1', { limit: 2 });

    // Assert
    expect(page.items).toEqual([{ event, raw: undefined }]);
    expect(page.next).toEqual({ deviceId: 'thing-1', eventKey: 'damaged' });
    expect(error).toHaveBeenCalledWith('stored record cannot be read; left out', {
      record: 'event thing-1/damaged',
      reason: 'the record is not JSON',
    });
  });

  it('lists the alert history without the damaged entry, reporting its key', async () => {
    // Arrange
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const { dynamo, mock } = mockedDocumentClient();
    const good = encodeLedgerEntry(alert, NOW, 0);
    mock.on(QueryCommand).resolves({ Items: [{ ...good, alertKey: 'odd', status: 'lost' }, good] });

    // Act
    const page = await new DynamoDbAlertLedger(dynamo, 'alerts', 90).listForDevice('thing-1', { limit: 2 });

    // Assert
    expect(page.items).toEqual([{ alert, status: 'sent', publishedAt: NOW }]);
    expect(error).toHaveBeenCalledWith('stored record cannot be read; left out', {
      record: 'alert thing-1/odd',
      reason: expect.stringMatching(/^status: /),
    });
  });
});

/** An HTTP handler that answers every request with DynamoDB's throttling error, counting the attempts. */
function throttlingHandler() {
  const attempts = { count: 0 };
  const requestHandler = {
    async handle() {
      attempts.count += 1;
      const body = JSON.stringify({
        __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
        message: 'The level of configured provisioned throughput for the table was exceeded.',
      });
      return {
        response: {
          statusCode: 400,
          headers: { 'content-type': 'application/x-amz-json-1.0' },
          body: Readable.from([Buffer.from(body)]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  return { attempts, requestHandler };
}

describe('throttling that outlasts the retries', () => {
  it("fails the write with DynamoDB's error once the client's attempts are spent", async () => {
    // Arrange: the clients' own retry settings, with a 1 ms backoff.
    const { attempts, requestHandler } = throttlingHandler();
    const { common } = clientSettings({ region: 'eu-west-1', retryBackoffMs: 1 });
    const dynamo = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        ...common,
        requestHandler,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      }),
    );

    // Act
    const append = new DynamoDbEventLog(dynamo, 'events', 30).append(event);

    // Assert
    await expect(append).rejects.toMatchObject({
      name: 'ProvisionedThroughputExceededException',
      $metadata: { attempts: common.maxAttempts },
    });
    expect(attempts.count).toBe(common.maxAttempts);
  });
});
