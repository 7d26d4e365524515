import { SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DynamoDbFleetIncidents,
  FLEET_SHARDS,
  fleetPartitionsOf,
  TALLY_GROUPS,
} from '../../src/adapters/dynamodb/fleet-incidents.js';
import {
  type FleetAlert,
  newIncident,
  type OfflineNotice,
  outageAlert,
} from '../../src/domain/fleet-incidents.js';
import { FleetTracker } from '../../src/domain/fleet-tracker.js';
import type { Alert } from '../../src/domain/ports.js';
import { DEFAULT_FLEET_RULE } from '../../src/domain/settings.js';
import { RecordingAlertPublisher } from '../../src/local/in-memory-ports.js';
import { seededRandom } from '../../src/shared/seeded-random.js';
import { faultyClient, LostResponseError } from '../fixtures/faulty-dynamodb.js';
import { stormAlert } from '../fixtures/storm-alerts.js';
import {
  apiEvent,
  callApi,
  connectedMessage,
  disconnectedMessage,
  newSession,
  startVirtualStack,
  T0,
  type VirtualStack,
} from '../fixtures/virtual-runtime.js';

const W = 120_000;
let stack: VirtualStack;

beforeAll(async () => {
  stack = await startVirtualStack();
});

afterAll(async () => {
  await stack?.stop();
});

/** Retries like Lambda until the call goes through. */
async function untilDone<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof LostResponseError) || attempt > 40) throw error;
    }
  }
}

/** A queue subscribed to the alert topic with a filter policy on message attributes, as an operator would. */
async function subscribedQueue(name: string, filterPolicy: unknown) {
  const { sns } = stack.runtime.ports.clients;
  // An explicit endpoint: the emulator's queue URLs name a virtual host that only it answers to.
  const sqs = new SQSClient({
    endpoint: stack.aws.snsSqsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-${Date.now()}` }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await sns.send(
    new SubscribeCommand({
      TopicArn: stack.runtime.ports.config.ALERT_TOPIC_ARN,
      Protocol: 'sqs',
      Endpoint: Attributes?.QueueArn,
      Attributes: { FilterPolicy: JSON.stringify(filterPolicy), RawMessageDelivery: 'true' },
    }),
  );
  return {
    async types(): Promise<string[]> {
      const received: string[] = [];
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        if (Messages.length === 0) return received;
        for (const message of Messages) {
          const alert = JSON.parse(message.Body ?? '{}') as { type: string; incidentId?: string };
          received.push(
            alert.incidentId && !alert.type.startsWith('fleet') ? `${alert.type} (in incident)` : alert.type,
          );
          await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }));
        }
      }
    },
  };
}

/** The partition key of every item a command writes (transactions: each of their items). */
function writtenPartitions(command: { input: Record<string, unknown> }): string[] {
  const { input } = command;
  const keyOf = (write: Record<string, unknown> | undefined) =>
    String(((write?.Key ?? write?.Item) as { deviceId?: unknown } | undefined)?.deviceId);
  if (Array.isArray(input.TransactItems))
    return (input.TransactItems as Array<Record<string, Record<string, unknown>>>).map((item) =>
      keyOf(item.Put ?? item.Update ?? item.Delete ?? item.ConditionCheck),
    );
  if (input.Key || input.Item) return [keyOf(input)];
  return [];
}

/** A client that tells each partition key written to, per write. */
function countingWrites(dynamo: DynamoDBDocumentClient, seen: string[]): DynamoDBDocumentClient {
  return new Proxy(dynamo, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
        const name = command.constructor.name;
        if (/Put|Update|Delete|TransactWrite/.test(name))
          seen.push(...writtenPartitions(command as unknown as { input: Record<string, unknown> }));
        return target.send(command);
      };
    },
  });
}

/** A client that asks for the read units of every read and adds them up. */
function countingReadUnits(dynamo: DynamoDBDocumentClient, units: { read: number }): DynamoDBDocumentClient {
  return new Proxy(dynamo, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: Parameters<DynamoDBDocumentClient['send']>[0]) => {
        const { input } = command as unknown as { input: Record<string, unknown> };
        const reads = /Get|Query/.test(command.constructor.name);
        if (reads) input.ReturnConsumedCapacity = 'TOTAL';
        const output = (await target.send(command)) as { ConsumedCapacity?: unknown };
        if (reads)
          for (const consumed of [output.ConsumedCapacity ?? []].flat() as Array<{ CapacityUnits?: number }>)
            units.read += consumed.CapacityUnits ?? 0;
        return output;
      };
    },
  });
}

const offlineNotice = (deviceId: string, since: number): OfflineNotice => ({
  alertId: `${deviceId}/offline/s/1`,
  deviceId,
  since,
  reason: 'CONNECTION_LOST',
});

/** One device id on each of the FLEET_SHARDS shards: an incident they all join has every one of its tallies. */
function onePerShard(prefix: string): string[] {
  const byShard = new Map<string, string>();
  for (let k = 0; byShard.size < FLEET_SHARDS; k += 1) {
    const deviceId = `${prefix}-${k}`;
    const shard = fleetPartitionsOf(deviceId).split('/')[0] as string;
    if (!byShard.has(shard)) byShard.set(shard, deviceId);
  }
  return [...byShard.values()];
}

/** Opens an incident of 25 devices through the store, as placing their offline alerts does. */
async function openedIncident(store: DynamoDbFleetIncidents, prefix: string, since: number) {
  const members = Array.from({ length: 25 }, (_, i) =>
    offlineNotice(`${prefix}-open-${i}`, since + i * 1_000),
  );
  for (const member of members) await store.addCandidate(member);
  const incident = newIncident(members);
  const owed = { alert: outageAlert(incident, since + 25_000), retryAt: since + 25_000 };
  expect(await store.open(incident, members, owed)).toBe('opened');
  return incident;
}

/** The items of the partition keys that start with the incident's tally groups' (one query per group). */
async function groupedTallies(dynamo: DynamoDBDocumentClient, table: string, incidentId: string) {
  const groups = await Promise.all(
    Array.from({ length: TALLY_GROUPS }, (_, group) =>
      dynamo.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'deviceId = :p',
          ExpressionAttributeValues: { ':p': `$fleet#tallies#${incidentId}#${group}` },
        }),
      ),
    ),
  );
  return groups.flatMap((group) => group.Items ?? []);
}

describe('fleet incidents on DynamoDB Local', () => {
  it('counts exactly, and alerts once, when 40 devices are placed concurrently, three times each, through faults', async () => {
    // Arrange
    const { dynamo } = stack.runtime.ports.clients;
    const table = stack.runtime.ports.config.ALERTS_TABLE;
    const random = seededRandom(42);
    let now = T0 + 10 * 86_400_000;
    const publisher = new RecordingAlertPublisher();
    const tracker = new FleetTracker({
      store: new DynamoDbFleetIncidents(faultyClient(dynamo, random, 0.1), table),
      history: stack.runtime.ports.ledger,
      publisher,
      clock: { now: () => now },
      rule: DEFAULT_FLEET_RULE,
      leaseMs: 30_000,
    });
    const offline = Array.from({ length: 40 }, (_, i) => stormAlert('offline', i, now + i * 1_000));
    const online = Array.from({ length: 40 }, (_, i) => stormAlert('online', i, now + 600_000 + i * 1_000));
    const shuffled = <T>(items: T[]) => [...items, ...items, ...items].sort(() => random() - 0.5);

    // Act: ten at a time, as concurrent reconcilers would; then the sweep, once every lease has ended, and a minute
    // later again, as its schedule runs it: a claim whose response was lost holds its alert one more lease.
    const placeAll = async (alerts: Alert[]) => {
      const queue = shuffled(alerts);
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          for (let alert = queue.shift(); alert; alert = queue.shift()) {
            const placing = alert;
            await untilDone(() => tracker.place(placing));
          }
        }),
      );
    };
    await placeAll(offline);
    now += 600_000;
    await placeAll(online);
    for (let sweep = 0; sweep < 2; sweep += 1) {
      now += 60_000;
      await untilDone(() => tracker.sweep());
    }

    // Assert
    // Once each; a refused outage alert is published by the sweep, which may come after the recovery's.
    const fleetAlerts = publisher.published
      .map((p) => p.alert as FleetAlert)
      .sort((a, b) => a.type.localeCompare(b.type));
    expect(fleetAlerts.map((a) => a.type)).toEqual(['fleet-outage', 'fleet-recovered']);
    const incidentId = fleetAlerts[0]?.incidentId as string;
    const store = new DynamoDbFleetIncidents(dynamo, table);
    const incident = await store.incident(incidentId);
    const members = await store.listIncidentDevices(incidentId, { limit: 100 });
    expect(incident).toMatchObject({ status: 'closed', devices: 40, recovered: 40, owed: {} });
    expect(members.items).toHaveLength(40);
    expect(members.items.every((m) => m.recovered)).toBe(true);
    expect(await store.candidates(0, Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect(fleetAlerts[1]).toMatchObject({ devices: 40 });
    expect(fleetAlerts[1]?.stillOffline).toBeLessThanOrEqual(4);
  });

  it('sends one fleet-outage and one fleet-recovered through the real pipeline, and names the incident in device alerts', {
    timeout: 180_000,
  }, async () => {
    // Arrange: 30 devices connected, then all dropped within 20 s, back 10 minutes later; two subscriptions
    // with the README's filter policies.
    const fleetOnly = await subscribedQueue('fleet-only', { type: ['fleet-outage', 'fleet-recovered'] });
    const outsideIncidents = await subscribedQueue('outside-incidents', { incidentId: [{ exists: false }] });
    const start = T0 + 600_000;
    const sessions = Array.from({ length: 30 }, (_, i) => newSession(`fleet-dev-${i}`, 1));
    const batch = async (at: number, messages: Array<{ topic: string; payload: unknown }>) => {
      await stack.timers.advanceTo(at);
      await stack.runtime.publishBatch(
        messages.map((m) => ({
          topic: m.topic,
          payload: Buffer.from(JSON.stringify(m.payload)),
          clientId: null,
          receivedAt: at,
        })),
      );
    };
    await batch(
      start,
      sessions.map((s) => connectedMessage(s, start)),
    );
    await stack.runtime.receiveAlerts();
    // Act
    for (let i = 0; i < 30; i += 10) {
      const at = start + 60_000 + i * 600;
      await batch(
        at,
        sessions.slice(i, i + 10).map((s) => disconnectedMessage(s, at)),
      );
    }
    await stack.timers.advanceTo(start + 60_000 + 20_000 + W + 5_000);
    const whileDown = await stack.runtime.receiveAlerts();
    await batch(
      start + 900_000,
      sessions.map((s) => connectedMessage({ ...s, versionNumber: 2 }, start + 900_000)),
    );
    const afterReturn = await stack.runtime.receiveAlerts();
    // Assert
    const outage = whileDown.filter((a) => a.type === 'fleet-outage');
    expect(outage).toHaveLength(1);
    const incidentId = outage[0]?.incidentId;
    const devices = Number(outage[0]?.devices);
    expect(devices).toBeGreaterThanOrEqual(25);
    expect(outage[0]).toMatchObject({
      reasons: { CONNECTION_LOST: devices },
      path: `/incidents/${incidentId}`,
    });
    const offline = whileDown.filter((a) => a.type === 'offline');
    expect(offline).toHaveLength(30);
    // The alert that opened it and every one placed after name it; of its members, those whose placement ran
    // alongside the opening (a batch of checks) may too, the rest went out before there was an incident to name.
    const named = offline.filter((a) => a.incidentId === incidentId).length;
    expect(named).toBeGreaterThanOrEqual(30 - devices + 1);
    expect(named).toBeLessThanOrEqual(30);
    const recovered = afterReturn.filter((a) => a.type === 'fleet-recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatchObject({ incidentId, devicesAffected: 30 });
    expect(afterReturn.filter((a) => a.type === 'online' && a.incidentId === incidentId)).toHaveLength(30);
    expect(await fleetOnly.types()).toEqual(['fleet-outage', 'fleet-recovered']);
    // Only the offline alerts that went out before the incident opened; every return named it.
    expect(await outsideIncidents.types()).toEqual(Array.from({ length: 30 - named }, () => 'offline'));
  });

  it('spreads what each device alert of a storm writes over the shards, off the partition of the heads', async () => {
    // Arrange: 25 devices open an incident; 75 more join it and then all 100 come back.
    const { dynamo } = stack.runtime.ports.clients;
    const table = stack.runtime.ports.config.ALERTS_TABLE;
    let now = T0 + 20 * 86_400_000;
    const written: string[] = [];
    const publisher = new RecordingAlertPublisher();
    const tracker = new FleetTracker({
      store: new DynamoDbFleetIncidents(countingWrites(dynamo, written), table),
      history: stack.runtime.ports.ledger,
      publisher,
      clock: { now: () => now },
      rule: DEFAULT_FLEET_RULE,
      leaseMs: 30_000,
    });
    const offset = 1_000;
    const offline = Array.from({ length: 100 }, (_, i) => stormAlert('offline', offset + i, now + i * 500));
    for (const alert of offline.slice(0, 25)) await tracker.place(alert);
    const beforeJoins = written.length;

    // Act
    for (const alert of offline.slice(25)) await tracker.place(alert);
    const joins = written.slice(beforeJoins);
    now += 600_000;
    const beforeReturns = written.length;
    for (let i = 0; i < 100; i += 1) await tracker.place(stormAlert('online', offset + i, now + i * 500));
    const returns = written.slice(beforeReturns);

    // Assert: the 75 joins and the returns until the close wrote nothing under `$fleet`; every shard took some.
    const fleetAlerts = publisher.published.map((p) => (p.alert as FleetAlert).type);
    expect(fleetAlerts).toEqual(['fleet-outage', 'fleet-recovered']);
    const outage = publisher.published[0]?.alert as FleetAlert;
    expect(outage.devices).toBe(25);
    expect(joins.filter((pk) => pk === '$fleet')).toEqual([]);
    // The close and the settling of its alert are the only writes of the returns on the heads' partition.
    expect(returns.filter((pk) => pk === '$fleet').length).toBeLessThanOrEqual(4);
    const shards = new Set([...joins, ...returns].filter((pk) => pk.startsWith('$fleet#')));
    expect(shards.size).toBeGreaterThan(16);
    const store = new DynamoDbFleetIncidents(dynamo, table);
    expect(await store.getIncident(outage.incidentId)).toMatchObject({
      status: 'closed',
      devices: 100,
      recovered: 100,
      reasons: { CONNECTION_LOST: 100 },
      startedAt: offline[0]?.since,
      lastSince: offline[99]?.since,
    });
  });

  it('lists incidents by status and pages through the devices of one', async () => {
    // Arrange: the incident of the previous test, closed.
    const { listIncidents, getIncident } = stack.runtime.handlers;
    // Act
    const open = await callApi(listIncidents, apiEvent('/incidents', {}, { status: 'open' }));
    const closed = await callApi(listIncidents, apiEvent('/incidents', {}, { status: 'closed' }));
    const items = closed.body.items as Array<{ incidentId: string; devices: number; startedAt: string }>;
    const incidentId = String(items.find((i) => i.devices === 30)?.incidentId);
    const pages: Array<Record<string, unknown>> = [];
    let cursor: string | undefined;
    do {
      const page = await callApi(
        getIncident,
        apiEvent(`/incidents/${incidentId}`, { incidentId }, { limit: '12', ...(cursor ? { cursor } : {}) }),
      );
      pages.push(page.body);
      cursor = ((page.body.deviceList as { cursor: string | null }).cursor ?? undefined) as
        | string
        | undefined;
    } while (cursor);
    const unknown = await callApi(
      getIncident,
      apiEvent('/incidents/x', { incidentId: '20261101T000000000Z-00000000' }),
    );
    const malformed = await callApi(getIncident, apiEvent('/incidents/x', { incidentId: '../etc' }));
    const badStatus = await callApi(listIncidents, apiEvent('/incidents', {}, { status: 'gone' }));
    // Assert
    expect(open.body.items).toEqual([]);
    // The other tests' incidents, newest first.
    expect(items.map((i) => i.devices)).toEqual([100, 40, 30]);
    expect(items[2]).toMatchObject({ status: 'closed', devices: 30, recovered: 30, stillOffline: 0 });
    const devices = pages.flatMap((p) => (p.deviceList as { items: Array<{ deviceId: string }> }).items);
    expect(devices.map((d) => d.deviceId).sort()).toEqual(
      Array.from({ length: 30 }, (_, i) => `fleet-dev-${i}`).sort(),
    );
    expect(pages).toHaveLength(3);
    expect(unknown).toMatchObject({ statusCode: 404, body: { error: 'incident not found' } });
    expect(malformed.statusCode).toBe(400);
    expect(badStatus).toMatchObject({ statusCode: 400 });
  });

  it('keeps the 99 tallies of an incident under its tally groups and reads them in a few read units', async () => {
    // Arrange: an incident opened by 25 devices, joined by one device of each shard, so that it has every tally.
    const { dynamo } = stack.runtime.ports.clients;
    const table = stack.runtime.ports.config.ALERTS_TABLE;
    const since = T0 + 30 * 86_400_000;
    const store = new DynamoDbFleetIncidents(dynamo, table);
    const incident = await openedIncident(store, 'grouped', since);
    const joining = onePerShard('grouped-join');
    for (const [i, deviceId] of joining.entries())
      await store.join(incident.incidentId, offlineNotice(deviceId, since + 30_000 + i * 100));
    const units = { read: 0 };
    const returning = new DynamoDbFleetIncidents(countingReadUnits(dynamo, units), table);

    // Act: a member's return, in a process that has not read the incident yet (its head is read too).
    const seen = await returning.recover(incident.incidentId, joining[0] as string);

    // Assert: the return's read of 99 tallies; their partition keys are the incident's own.
    expect(seen).toMatchObject({ status: 'open', devices: 25 + FLEET_SHARDS, recovered: 1 });
    expect(seen).not.toHaveProperty('tallyGroups');
    // The consistent read of the head (1 unit), and one eventually consistent query a group: where one
    // BatchGetItem of the 99 tallies was 49.5 units.
    expect(units.read).toBeLessThanOrEqual(1 + TALLY_GROUPS * 0.5);
    const tallies = await groupedTallies(dynamo, table, incident.incidentId);
    expect(tallies).toHaveLength(FLEET_SHARDS);
    expect(tallies.reduce((sum, tally) => sum + Number(tally.devices), 0)).toBe(FLEET_SHARDS);
    expect(await store.getIncident(incident.incidentId)).toMatchObject({
      devices: 25 + FLEET_SHARDS,
      recovered: 1,
      startedAt: since,
      lastSince: since + 30_000 + (FLEET_SHARDS - 1) * 100,
    });
  });

  it('counts in and reads the tallies of an incident opened before tally groups on the shards, as its head says', async () => {
    // Arrange: an open incident as the previous layout stored it: a version-1 head (no tally groups), in the
    // summary's open set, and the tally of a shard its members joined on, `$fleet#<shard>` / `tally#<id>`.
    const { dynamo } = stack.runtime.ports.clients;
    const table = stack.runtime.ports.config.ALERTS_TABLE;
    const since = T0 + 40 * 86_400_000;
    const incident = newIncident(
      Array.from({ length: 25 }, (_, i) => offlineNotice(`old-layout-open-${i}`, since + i * 1_000)),
    );
    const { incidentId } = incident;
    const put = (item: Record<string, unknown>) =>
      dynamo.send(new PutCommand({ TableName: table, Item: item }));
    await put({
      deviceId: '$fleet',
      alertKey: `incident#${incidentId}`,
      schemaVersion: 1,
      ...incident,
      owed: {},
    });
    await dynamo.send(
      new UpdateCommand({
        TableName: table,
        Key: { deviceId: '$fleet', alertKey: 'fleet#summary' },
        UpdateExpression: 'ADD #open :id',
        ExpressionAttributeNames: { '#open': 'open' },
        ExpressionAttributeValues: { ':id': new Set([incidentId]) },
      }),
    );
    await put({
      deviceId: '$fleet#7',
      alertKey: `tally#${incidentId}`,
      incidentId,
      devices: 5,
      recovered: 2,
      'reason#CONNECTION_LOST': 4,
      'reason#SERVER_ERROR': 1,
      lastSince: since + 40_000,
    });
    const store = new DynamoDbFleetIncidents(dynamo, table);
    const joiner = 'old-layout-join';
    const shard = fleetPartitionsOf(joiner).split('/')[0];

    // Act: a device joins and comes back; then every reader of the incident.
    await store.join(incidentId, offlineNotice(joiner, since + 50_000));
    const seen = await store.recover(incidentId, joiner);
    const read = {
      incident: await store.getIncident(incidentId),
      open: (await store.openIncidents()).find((i) => i.incidentId === incidentId),
      listed: (await store.listIncidents('open', { limit: 10 })).items.find(
        (i) => i.incidentId === incidentId,
      ),
      stored: await store.incident(incidentId),
    };

    // Assert: the join and the return counted on the shard's tally; nothing under tally groups.
    const { Item: tally } = await dynamo.send(
      new GetCommand({
        TableName: table,
        Key: { deviceId: `$fleet#${shard}`, alertKey: `tally#${incidentId}` },
      }),
    );
    expect(tally).toMatchObject({ devices: 1, recovered: 1, lastSince: since + 50_000 });
    expect(await groupedTallies(dynamo, table, incidentId)).toEqual([]);
    const expected = {
      incidentId,
      status: 'open',
      devices: 25 + 5 + 1,
      recovered: 2 + 1,
      reasons: { CONNECTION_LOST: 25 + 4 + 1, SERVER_ERROR: 1 },
      startedAt: since,
      lastSince: since + 50_000,
    };
    expect(seen).toMatchObject(expected);
    expect(read.incident).toMatchObject(expected);
    expect(read.open).toMatchObject(expected);
    expect(read.listed).toMatchObject(expected);
    expect(read.stored).toMatchObject({ ...expected, schemaVersion: 1 });
  });

  it('takes a late offline alert into the closed incident its device dropped during, kept two days as its span', async () => {
    // Arrange: three devices drop and come back; the incident closes before a fourth's offline alert is decided.
    const { dynamo } = stack.runtime.ports.clients;
    const table = stack.runtime.ports.config.ALERTS_TABLE;
    let now = T0 + 60 * 86_400_000;
    const store = new DynamoDbFleetIncidents(dynamo, table);
    const tracker = new FleetTracker({
      store,
      history: stack.runtime.ports.ledger,
      publisher: new RecordingAlertPublisher(),
      clock: { now: () => now },
      rule: { ...DEFAULT_FLEET_RULE, minDevices: 3 },
      leaseMs: 30_000,
    });
    const start = now;
    const dropAndReturn = async (indexes: number[], at: number) => {
      let incidentId: string | undefined;
      for (const i of indexes)
        incidentId = (await tracker.place(stormAlert('offline', i, at + i))) ?? incidentId;
      for (const i of indexes) await tracker.place(stormAlert('online', i, at + 60_000));
      return incidentId as string;
    };
    const first = await dropAndReturn([9001, 9002, 9003], start);

    // Act
    now += 120_000;
    const late = await tracker.place(stormAlert('offline', 9004, start + 9004));
    await tracker.place(stormAlert('online', 9004, now));
    const second = await dropAndReturn([9011, 9012, 9013], now + 86_400_000);
    const closedAfter = async (after: number) =>
      (await store.closedSpans(after)).map((span) => span.incidentId);
    const { Items: spans = [] } = await dynamo.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'deviceId = :p',
        ExpressionAttributeValues: { ':p': '$fleet#closed' },
      }),
    );

    // Assert
    expect(late).toBe(first);
    expect(await store.getIncident(first)).toMatchObject({ status: 'closed', devices: 4, recovered: 4 });
    expect(await closedAfter(start)).toEqual([first, second]);
    expect(await closedAfter(start + 86_400_000)).toEqual([second]);
    const firstSpan = spans.find((item) => item.incidentId === first);
    expect(firstSpan).toMatchObject({ schemaVersion: 1, startedAt: start + 9001, lastSince: start + 9003 });
    expect(firstSpan?.expiresAt).toBe(Math.floor((firstSpan?.closedAt as number) / 1000) + 2 * 86_400);
  });
});
