import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbDeviceStore } from '../src/adapters/dynamodb/device-store.js';
import type { ConnectedEvent, DeviceEvent, DisconnectedEvent } from '../src/domain/device-events.js';
import { applyEvents, emptyFacts } from '../src/domain/device-facts.js';
import { evaluateDevice } from '../src/domain/evaluate.js';
import type { DeviceCommit } from '../src/domain/ports.js';
import { settledStatus } from '../src/domain/queries.js';
import { DEFAULT_SETTINGS, type PresenceSettings } from '../src/domain/settings.js';
import { forEachWithLimit } from '../src/shared/concurrency.js';

/** Device events as the ingest handlers store them (same eventId scheme as parsePresence). */
export function connected(deviceId: string, sessionIdentifier: string, versionNumber: number, at: number) {
  const event: ConnectedEvent = {
    kind: 'connected',
    deviceId,
    eventId: `connected:${sessionIdentifier}:${versionNumber}`,
    receivedAt: at,
    timestamp: at,
    sessionIdentifier,
    versionNumber,
  };
  return event;
}

export function disconnected(deviceId: string, sessionIdentifier: string, versionNumber: number, at: number) {
  const event: DisconnectedEvent = {
    kind: 'disconnected',
    deviceId,
    eventId: `disconnected:${sessionIdentifier}:${versionNumber}`,
    receivedAt: at,
    timestamp: at,
    sessionIdentifier,
    versionNumber,
    disconnectReason: 'CONNECTION_LOST',
    clientInitiatedDisconnect: false,
  };
  return event;
}

/**
 * What Reconciler.reconcile would commit for a new device after these events, at `now`. Alerts owed are only
 * allowed when `leaseEndsAt` is given: they are then put in the outbox with a publisher's lease ending then.
 */
function commitFor(
  deviceId: string,
  events: readonly DeviceEvent[],
  now: number,
  settings: PresenceSettings,
  leaseEndsAt?: number,
): DeviceCommit {
  const facts = applyEvents(emptyFacts(deviceId), events);
  const evaluation = evaluateDevice(facts, undefined, now, settings);
  const listedAs = evaluation.view && settledStatus(evaluation.view, now, settings.settleWindowMs);
  if (leaseEndsAt === undefined && evaluation.alerts.length > 0) {
    throw new Error(`${deviceId}: a seeded device must not owe alerts`);
  }
  return {
    deviceId,
    facts: evaluation.facts,
    cursor: evaluation.cursor,
    view: evaluation.view,
    recheckAt: evaluation.recheckAt,
    ...(listedAs ? { listedAs } : {}),
    ...(leaseEndsAt === undefined ? {} : { pendingChecks: [leaseEndsAt] }),
    expectedRevision: undefined,
    outbox: evaluation.alerts.map((alert) => ({
      alert: { ...alert, decidedAt: now },
      retryAt: leaseEndsAt ?? now,
    })),
    now,
  };
}

/** A device that connected once and stays connected: settled, nothing to check and nothing in its outbox. */
function idleCommit(deviceId: string, now: number, settings: PresenceSettings): DeviceCommit {
  return commitFor(deviceId, [connected(deviceId, `${deviceId}-s1`, 1, now - 3_600_000)], now, settings);
}

/** A device whose session just ended abruptly: an outage is pending until `now + W`. */
export function pendingOutageCommit(deviceId: string, now: number, settings: PresenceSettings): DeviceCommit {
  const session = `${deviceId}-s1`;
  return commitFor(
    deviceId,
    [connected(deviceId, session, 1, now - 60_000), disconnected(deviceId, session, 1, now)],
    now,
    settings,
  );
}

/**
 * A device whose offline alert was decided and committed to its outbox, and whose publisher died: the lease ends at
 * `now`, when the check its write asked for arrives and publishes it (the caller schedules that check).
 */
export function strandedAlertCommit(deviceId: string, now: number, settings: PresenceSettings): DeviceCommit {
  const session = `${deviceId}-s1`;
  const end = now - settings.settleWindowMs - 30_000;
  const events = [connected(deviceId, session, 1, end - 60_000), disconnected(deviceId, session, 1, end)];
  return commitFor(deviceId, events, now - 30_000, settings, now);
}

/**
 * The item DynamoDbDeviceStore.commit() writes for a commit, captured from the real adapter (with a client that
 * records instead of sending), so that seeded items have exactly the shape the store writes.
 */
class DeviceItemShaper {
  private readonly captured = new Map<string, Record<string, unknown>>();
  private readonly store: DynamoDbDeviceStore;

  constructor(tableName: string) {
    const recorder = {
      send: async (command: { input: { Item?: Record<string, unknown> } }) => {
        const item = command.input.Item;
        if (item) this.captured.set(String(item.deviceId), item);
        return {};
      },
    } as unknown as DynamoDBDocumentClient;
    this.store = new DynamoDbDeviceStore(recorder, tableName, DEFAULT_SETTINGS);
  }

  async item(commit: DeviceCommit): Promise<Record<string, unknown>> {
    await this.store.commit(commit);
    const item = this.captured.get(commit.deviceId);
    this.captured.delete(commit.deviceId);
    if (!item) throw new Error('the device store wrote no item');
    return item;
  }
}

/** BatchWriteItem, 25 items a request, `concurrency` requests in flight, unprocessed items retried. */
async function batchWrite(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  items: readonly Record<string, unknown>[],
  concurrency = 8,
): Promise<number> {
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
  let requests = 0;
  const failures = await forEachWithLimit(chunks, concurrency, async (chunk) => {
    let pending = chunk.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      if (attempt > 20) throw new Error('BatchWriteItem kept leaving items unprocessed');
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 20 * 2 ** attempt)));
      requests += 1;
      const { UnprocessedItems } = await dynamo.send(
        new BatchWriteCommand({ RequestItems: { [tableName]: pending } }),
      );
      pending = (UnprocessedItems?.[tableName] ?? []) as typeof pending;
    }
  });
  if (failures.length > 0) throw failures[0]?.error;
  return requests;
}

/** The id of the idle fleet's `index`th device (reconcile seeds them, status-api reads them). */
export const idleDeviceId = (index: number) => `idle-${String(index).padStart(7, '0')}`;

/**
 * Seeds the idle devices `from` .. `to - 1` (settled and connected since `now` - 1 h) with BatchWriteItem, in the
 * exact item shape DynamoDbDeviceStore.commit() writes, outside the counted runtime.
 */
export async function seedIdleFleet(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  range: { from: number; to: number },
  now: number,
  settings: PresenceSettings,
): Promise<void> {
  const shaper = new DeviceItemShaper(tableName);
  for (let from = range.from; from < range.to; from += 5_000) {
    const to = Math.min(range.to, from + 5_000);
    const items = await Promise.all(
      Array.from({ length: to - from }, (_, i) =>
        shaper.item(idleCommit(idleDeviceId(from + i), now, settings)),
      ),
    );
    await batchWrite(dynamo, tableName, items);
  }
}
