import { createRequire } from 'node:module';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDeviceRecord } from '../../src/adapters/dynamodb/device-record.js';
import { DynamoDbDeviceStore } from '../../src/adapters/dynamodb/device-store.js';
import { backfillSettledStatus } from '../../src/adapters/dynamodb/settled-index-migration.js';
import { DOCUMENT_TRANSLATION } from '../../src/adapters/dynamodb-client.js';
import { shardOf } from '../../src/adapters/shards.js';
import type { DeviceEvent } from '../../src/domain/device-events.js';
import { applyEvents, emptyFacts } from '../../src/domain/device-facts.js';
import { evaluateDevice } from '../../src/domain/evaluate.js';
import { DEFAULT_SETTINGS } from '../../src/domain/settings.js';
import { connectedEvent, disconnectedEvent } from '../../src/local/in-memory-ports.js';
import { type RunningDynamoDbLocal, startDynamoDbLocal } from '../../src/local/services/dynamodb-local.js';
import { LOCAL_CREDENTIALS } from '../../src/local/services/local-aws.js';

const require = createRequire(import.meta.url);
const tables = require('../../infra/tables.json') as { devices: CreateTableCommandInput };
const { LEGACY_STATUS_INDEX } = require('../../infra/device-indexes.cjs') as {
  LEGACY_STATUS_INDEX: NonNullable<CreateTableCommandInput['GlobalSecondaryIndexes']>[number];
};

const TABLE = 'migration-devices';
const T = 1_793_520_000_000;
const W = DEFAULT_SETTINGS.settleWindowMs;
const NOW = T + 60_000 + W + 60_000;

let dynamoDbLocal: RunningDynamoDbLocal;
let control: DynamoDBClient;
let documents: DynamoDBDocumentClient;

beforeAll(async () => {
  dynamoDbLocal = await startDynamoDbLocal();
  const settings = { endpoint: dynamoDbLocal.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
  control = new DynamoDBClient(settings);
  documents = DynamoDBDocumentClient.from(new DynamoDBClient(settings), DOCUMENT_TRANSLATION);
});

afterAll(async () => {
  control?.destroy();
  documents?.destroy();
  await dynamoDbLocal?.stop();
});

/** The devices table as the version before deployed it: byStatus (live status) and the unsent index. */
async function createLegacyTable() {
  const devices = tables.devices as CreateTableCommandInput;
  await control.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: devices.KeySchema,
      AttributeDefinitions: [
        ...(devices.AttributeDefinitions ?? []).filter((a) => a.AttributeName !== 'settledShard'),
        { AttributeName: 'statusShard', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: [
        LEGACY_STATUS_INDEX,
        ...(devices.GlobalSecondaryIndexes ?? []).filter((index) => index.IndexName !== 'bySettledStatus'),
      ],
    }),
  );
}

/** A device item as the version before wrote it: its record, and its live status in the byStatus key. */
async function putLegacyDevice(deviceId: string, events: DeviceEvent[]) {
  const facts = applyEvents(emptyFacts(deviceId), events);
  const evaluation = evaluateDevice(facts, undefined, NOW, DEFAULT_SETTINGS);
  const view = evaluation.view;
  if (!view) throw new Error(`${deviceId} has no view`);
  await documents.send(
    new PutCommand({
      TableName: TABLE,
      Item: {
        deviceId,
        revision: 3,
        record: encodeDeviceRecord({ facts: evaluation.facts, outbox: [] }),
        status: view.status,
        statusShard: `${view.status}#${shardOf(deviceId)}`,
        settled: view.settled,
        since: view.since,
        sessionIdentifier: view.sessionIdentifier,
      },
    }),
  );
}

/** The table's indexes once none is being created or deleted. */
async function indexNames(): Promise<string[]> {
  for (;;) {
    const { Table } = await control.send(new DescribeTableCommand({ TableName: TABLE }));
    const indexes = Table?.GlobalSecondaryIndexes ?? [];
    if (indexes.every((index) => index.IndexStatus === 'ACTIVE')) {
      return indexes.map((index) => String(index.IndexName)).sort();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('migrating a stage to the settled-status index on DynamoDB Local', () => {
  it('creates the index beside the old one, backfills every device once, lists by settled status, then drops the old index', async () => {
    // Arrange: three devices written by the version before.
    await createLegacyTable();
    const session = (id: string) => ({ deviceId: id, sessionIdentifier: `${id}-s1`, versionNumber: 1 });
    await putLegacyDevice('d-online', [connectedEvent({ ...session('d-online'), receivedAt: T })]);
    await putLegacyDevice('d-outage', [
      connectedEvent({ ...session('d-outage'), receivedAt: T }),
      disconnectedEvent({
        ...session('d-outage'),
        receivedAt: T + 60_000,
        disconnectReason: 'CONNECTION_LOST',
      }),
    ]);
    await putLegacyDevice('d-dropped', [
      connectedEvent({ ...session('d-dropped'), receivedAt: T }),
      disconnectedEvent({
        ...session('d-dropped'),
        receivedAt: NOW - 10_000,
        disconnectReason: 'CONNECTION_LOST',
      }),
    ]);
    const settledIndex = (tables.devices.GlobalSecondaryIndexes ?? []).find(
      (index) => index.IndexName === 'bySettledStatus',
    );

    // Act: step 1 (the first deploy: the new index beside the old), step 2 (the backfill, run twice), step 3.
    await control.send(
      new UpdateTableCommand({
        TableName: TABLE,
        AttributeDefinitions: [
          { AttributeName: 'deviceId', AttributeType: 'S' },
          { AttributeName: 'settledShard', AttributeType: 'S' },
        ],
        GlobalSecondaryIndexUpdates: [{ Create: settledIndex as never }],
      }),
    );
    const during = await indexNames();
    const first = await backfillSettledStatus(documents, TABLE, DEFAULT_SETTINGS, NOW);
    const again = await backfillSettledStatus(documents, TABLE, DEFAULT_SETTINGS, NOW);
    const store = new DynamoDbDeviceStore(documents, TABLE, DEFAULT_SETTINGS);
    const disconnected = await store.listByStatus('disconnected', { limit: 10 }, NOW);
    const connected = await store.listByStatus('connected', { limit: 10 }, NOW);
    await control.send(
      new UpdateTableCommand({
        TableName: TABLE,
        GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: 'byStatus' } }],
      }),
    );

    // Assert
    expect(during).toEqual(['bySettledStatus', 'byStatus', 'unsent']);
    expect(first).toEqual({ scanned: 3, backfilled: 3, skipped: 0 });
    expect(again).toEqual({ scanned: 3, backfilled: 0, skipped: 3 });
    expect(disconnected.items.map((d) => [d.deviceId, d.status, d.settled])).toEqual([
      ['d-outage', 'disconnected', true],
    ]);
    expect(
      connected.items
        .map((d) => [d.deviceId, d.status, d.settled])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    ).toEqual([
      ['d-dropped', 'disconnected', false],
      ['d-online', 'connected', true],
    ]);
    expect(await indexNames()).toEqual(
      (tables.devices.GlobalSecondaryIndexes ?? []).map((index) => String(index.IndexName)).sort(),
    );
  });
});

describe('the settled-status index on DynamoDB Local', () => {
  const CURRENT = 'current-devices';
  const session = { sessionIdentifier: 's1', versionNumber: 1 };

  /** Every item the index holds, as `<device> <key's list>`. */
  async function indexed(): Promise<string[]> {
    const { Items } = await documents.send(
      new ScanCommand({ TableName: CURRENT, IndexName: 'bySettledStatus' }),
    );
    return (Items ?? []).map((item) => `${item.deviceId} ${String(item.settledShard).split('#')[0]}`).sort();
  }

  it('holds only the devices listed as disconnected, and reads items the version before keyed for both lists', async () => {
    // Arrange: the table as deployed now; a device written by the version before, whose index key named either list.
    const devices = tables.devices as CreateTableCommandInput;
    await control.send(
      new CreateTableCommand({ ...devices, TableName: CURRENT, BillingMode: 'PAY_PER_REQUEST' }),
    );
    const store = new DynamoDbDeviceStore(documents, CURRENT, DEFAULT_SETTINGS);
    const facts = (deviceId: string) =>
      applyEvents(emptyFacts(deviceId), [connectedEvent({ deviceId, ...session, receivedAt: T })]);
    const write = async (deviceId: string, listedAs: 'connected' | 'disconnected', revision?: number) => {
      const view = evaluateDevice(facts(deviceId), undefined, NOW, DEFAULT_SETTINGS).view;
      const result = await store.commit({
        deviceId,
        facts: facts(deviceId),
        ...(view ? { view } : {}),
        outbox: [],
        listedAs,
        expectedRevision: revision,
        now: NOW,
      });
      if (result.status !== 'committed') throw new Error(`${deviceId}: ${result.status}`);
    };
    await documents.send(
      new PutCommand({
        TableName: CURRENT,
        Item: {
          deviceId: 'd-keyed-before',
          revision: 2,
          record: encodeDeviceRecord({ facts: facts('d-keyed-before'), outbox: [] }),
          settledShard: `connected#${shardOf('d-keyed-before')}`,
        },
      }),
    );

    // Act: one device stays connected, one has an outage and comes back, one has an outage.
    await write('d-up', 'connected');
    await write('d-back', 'connected');
    await write('d-down', 'connected');
    await write('d-back', 'disconnected', 1);
    await write('d-down', 'disconnected', 1);
    const duringOutage = await indexed();
    await write('d-back', 'connected', 2);
    const after = await indexed();
    const keyedBefore = await store.load('d-keyed-before');
    const connected = await store.listByStatus('connected', { limit: 2 }, NOW);
    const rest = await store.listByStatus('connected', { limit: 10, after: connected.next }, NOW);

    // Assert
    expect(duringOutage).toEqual(['d-back disconnected', 'd-down disconnected', 'd-keyed-before connected']);
    expect(after).toEqual(['d-down disconnected', 'd-keyed-before connected']);
    expect(keyedBefore?.listedAs).toBe('connected');
    expect([...connected.items, ...rest.items].map((d) => d.deviceId).sort()).toEqual([
      'd-back',
      'd-keyed-before',
      'd-up',
    ]);
    expect(rest.next).toBeUndefined();
  });
});
