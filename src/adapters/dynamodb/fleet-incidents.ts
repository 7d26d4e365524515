/**
 * Fleet incidents in the alerts table. What is written once an incident (its head) is under the pseudo-device
 * `$fleet`, beside the fleet alerts' history:
 *   fleet#summary                   the open incidents and those with an alert still owed (string sets)
 *   incident#<id>                   status, samples, owed alerts, the counts of its opening members, and (version 2)
 *                                   how many tally groups its tallies are under
 * What every device alert writes is spread over FLEET_SHARDS shards, the shard of the device (its digest): a storm's
 * placements never meet on one item, nor on one partition (the table has a local secondary index, so an item
 * collection stays in one partition of 1,000 write units a second). Its memberships are under `$fleet#<shard>`:
 *   member#<id>#<device>            one per member device: listed for GET /incidents/{id}
 *   devmember#<device>#<id>         the same membership, found from the device when it comes back
 * and the counts, reasons and span its shard's devices added after the opening are the shard's tally, under
 * TALLY_GROUPS partition keys of the incident's own, `$fleet#tallies#<id>#<shard % G>`:
 *   tally#<shard>
 * so that reading an incident's 99 tallies is one Query a group, charged the group's summed size (0.5 read units
 * each, eventually consistent: 10 for 20 groups), not a BatchGetItem charged per item (49.5). Heads of version 1,
 * opened before, keep their tallies where they were: `$fleet#<shard>` / `tally#<id>`, read by BatchGetItem; every
 * reader and writer of tallies asks the head where they are (tallyOf, tallies).
 * A closed incident's span is kept for offline alerts decided after it closed, under `$fleet#closed` (expires after
 * two days):
 *   closed#<closedAt>#<id>          its span: when it started, its latest member's `since`, when it closed
 * Offline alerts that no incident took yet are few (until one opens); they are read by time, so they are kept on
 * CANDIDATE_SHARDS partition keys `$fleet#candidates#<shard>` only, each taking its share of the joins' removals:
 *   candidate#<since>#<alertId>     an offline alert no incident took yet (expires after two days)
 * An incident is its head plus its tallies. Every count moves in the same transaction as the item that makes it
 * happen, so a retry never counts twice.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { DISCONNECT_REASONS, LAST_WILL_REASON } from '../../domain/device-events.js';
import { StoredRecordError } from '../../domain/errors.js';
import {
  type ClosedSpan,
  FLEET_KEY,
  type FleetAlert,
  type Incident,
  type OfflineNotice,
} from '../../domain/fleet-incidents.js';
import type { FleetIncidentStore, OwedFleetAlert } from '../../domain/fleet-tracker.js';
import type { IncidentMember, IncidentQueries, Page, PageRequest } from '../../domain/queries.js';
import { fnv1a } from '../../shared/fnv1a.js';
import * as z from '../../shared/zod.js';
import { type Key, queryPages } from './paging.js';
import { ttlExpiry } from './ttl.js';

/** Version 2 heads name their tally groups (`tallyGroups`); version 1 heads' tallies are on the shards' partitions. */
const INCIDENT_SCHEMA_VERSION = 2;
/** Members written with the incident itself; more are attached in further transactions (100 items at most). */
const MEMBERS_PER_TRANSACTION = 30;
const CANDIDATE_TTL_DAYS = 2;
const CLOSED_SPAN_TTL_DAYS = 2;

/**
 * How many tallies an incident's counts are spread over, by the shard of the device (its digest), and how many
 * partition keys its memberships are: at most 50 transactions a second on one tally item take about 3,000
 * placements a second in all (docs/scaling.md).
 */
export const FLEET_SHARDS = 99;
/**
 * How many partition keys of its own an incident's tallies are under (`$fleet#tallies#<id>#<shard % G>`). Reading
 * them is one Query a group (each 0.5 read units eventually consistent: its ~5 tallies are well under 4 KB); a join
 * writes its tally in its transaction and, in a storm, once more to widen its span: fewer groups, hotter partitions.
 * The scale bench's storm of 100,000 devices, hottest group in one second: 14 groups 484 writes, 16 442, 18 374,
 * 20 328 (docs/scaling.md). 20: the fewest with a third of the 500 writes/s budget to spare, and under the storm's
 * hottest partition already there (353, a candidates shard).
 */
export const TALLY_GROUPS = 20;

const reason = z.enum([...DISCONNECT_REASONS, LAST_WILL_REASON]);
const incidentFields = {
  incidentId: z.string(),
  status: z.enum(['open', 'closed']),
  startedAt: z.number(),
  lastSince: z.number(),
  devices: z.number(),
  recovered: z.number(),
  reasons: z.partialRecord(reason, z.number()),
  sampleDeviceIds: z.array(z.string()),
  closedAt: z.optional(z.number()),
  owed: z.record(z.string(), z.object({ alert: z.string(), retryAt: z.number() })),
};
const storedIncident = z.discriminatedUnion('schemaVersion', [
  /** Opened before tally groups: its tallies are on the shards' partitions `$fleet#<shard>`. */
  z.object({ schemaVersion: z.literal(1), ...incidentFields }),
  z.object({
    schemaVersion: z.literal(INCIDENT_SCHEMA_VERSION),
    tallyGroups: z.int().check(z.gte(1), z.lte(FLEET_SHARDS)),
    ...incidentFields,
  }),
]);
const CLOSED_SPAN_SCHEMA_VERSION = 1;
const storedClosedSpan = z.object({
  schemaVersion: z.literal(CLOSED_SPAN_SCHEMA_VERSION),
  incidentId: z.string(),
  startedAt: z.number(),
  lastSince: z.number(),
  closedAt: z.number(),
});
const storedNotice = z.object({ alertId: z.string(), deviceId: z.string(), since: z.number(), reason });

const key = (sk: string) => ({ deviceId: FLEET_KEY, alertKey: sk });
const shardOf = (deviceId: string) => fnv1a(deviceId) % FLEET_SHARDS;
const inShard = (shard: number, sk: string) => ({ deviceId: `${FLEET_KEY}#${shard}`, alertKey: sk });
const ofDevice = (deviceId: string, sk: string) => inShard(shardOf(deviceId), sk);
const allShards = Array.from({ length: FLEET_SHARDS }, (_, shard) => shard);
const tallyPartition = (incidentId: string, group: number) => `${FLEET_KEY}#tallies#${incidentId}#${group}`;
/** Where a tally of an incident opened with tally groups is (the newest layout): a sort key per shard. */
export const groupedTallyOf = (incidentId: string, deviceId: string, groups = TALLY_GROUPS) => {
  const shard = shardOf(deviceId);
  return { deviceId: tallyPartition(incidentId, shard % groups), alertKey: `tally#${shard}` };
};
/** Every join removes the device's candidate, if any: 8 partitions take 4,000 joins a second at 500 writes each. */
export const CANDIDATE_SHARDS = 8;
const candidatePartition = (shard: number) => `${FLEET_KEY}#candidates#${shard}`;
/** The partitions a device's alerts are placed on (its tally's and its candidate's): what a storm's reads depend on. */
export const fleetPartitionsOf = (deviceId: string): string =>
  `${shardOf(deviceId)}/${fnv1a(deviceId) % CANDIDATE_SHARDS}`;
const candidateOf = (notice: Pick<OfflineNotice, 'since' | 'alertId' | 'deviceId'>) => ({
  deviceId: candidatePartition(fnv1a(notice.deviceId) % CANDIDATE_SHARDS),
  alertKey: candidateKey(notice),
});
const SUMMARY = 'fleet#summary';
const CLOSED_PARTITION = `${FLEET_KEY}#closed`;
const closedKey = (closedAt: number, incidentId = '') =>
  `closed#${String(closedAt).padStart(15, '0')}#${incidentId}`;
const incidentKey = (id: string) => `incident#${id}`;
const tallyKey = (id: string) => `tally#${id}`;
const memberPrefix = (id: string) => `member#${id}#`;
const memberKey = (id: string, deviceId: string) => `${memberPrefix(id)}${encodeURIComponent(deviceId)}`;
const deviceMemberPrefix = (deviceId: string) => `devmember#${encodeURIComponent(deviceId)}#`;
const candidateKey = (notice: Pick<OfflineNotice, 'since' | 'alertId'>) =>
  `candidate#${String(notice.since).padStart(15, '0')}#${notice.alertId}`;
/** A tally's count of one disconnect reason: a top-level attribute, which an update can add to from nothing. */
const REASON_PREFIX = 'reason#';

function cancelledByCondition(error: unknown): boolean {
  return (
    error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed')
  );
}

async function ignoringCondition(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

export class DynamoDbFleetIncidents implements FleetIncidentStore, IncidentQueries {
  /** Heads of open incidents, as opened: what placing reads of them (counts and span) never changes after. */
  private readonly openedHeads = new Map<string, StoredIncident>();

  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async openIncidents(): Promise<Incident[]> {
    const summary = await this.summary();
    const incidents = await Promise.all([...summary.open].map((id) => this.readOpen(id, true)));
    return incidents.flatMap((i) => (i?.status === 'open' ? [stripOwed(i)] : []));
  }

  async openIncident(incidentId: string): Promise<Incident | undefined> {
    const incident = await this.readOpen(incidentId, true);
    return incident?.status === 'open' ? stripOwed(incident) : undefined;
  }

  /** The open incidents' heads alone (kept once read open): one GetItem of the summary, no tallies. */
  async openIncidentsAsOpened(): Promise<Incident[]> {
    const summary = await this.summary();
    const heads = await Promise.all([...summary.open].map((id) => this.openHead(id)));
    return heads.flatMap((head) => (head?.status === 'open' ? [stripOwed(head)] : []));
  }

  private async openHead(incidentId: string): Promise<StoredIncident | undefined> {
    const kept = this.openedHeads.get(incidentId);
    if (kept) return kept;
    const head = await this.head(incidentId);
    if (head?.status === 'open') this.openedHeads.set(incidentId, head);
    return head;
  }

  /**
   * An incident with its tallies read now (`consistent`, or eventually consistent at half the read units), and its
   * head kept once read open: what placing reads of a head (its opening counts and span, where its tallies are)
   * never changes while it is open, and a closed one is no longer in the summary's open set.
   */
  private async readOpen(incidentId: string, consistent: boolean): Promise<StoredIncident | undefined> {
    const head = await this.openHead(incidentId);
    return head && withTallies(head, await this.tallies(head, consistent));
  }

  /** One query of the closed spans' partition, from `after` on. */
  async closedSpans(after: number): Promise<ClosedSpan[]> {
    const { items } = await queryPages(this.dynamo, {
      TableName: this.tableName,
      KeyConditionExpression: 'deviceId = :p AND alertKey > :after',
      ExpressionAttributeValues: { ':p': CLOSED_PARTITION, ':after': closedKey(after, '\uffff') },
      ConsistentRead: true,
    });
    return items.map((item) => {
      const { deviceId: _p, alertKey, expiresAt: _e, ...stored } = item;
      const { schemaVersion: _v, ...span } = this.parse(storedClosedSpan, stored, alertKey);
      return span;
    });
  }

  async join(incidentId: string, notice: OfflineNotice): Promise<'joined' | 'already'> {
    const { tableName: TableName } = this;
    const head = await this.openHead(incidentId);
    if (!head) throw new Error(`no fleet incident ${incidentId} to join`);
    const tally = tallyOf(head, notice.deviceId);
    const removeCandidate = { Delete: { TableName, Key: candidateOf(notice) } };
    const transaction: TransactWriteCommandInput['TransactItems'] = [
      ...this.membershipPuts(incidentId, notice),
      {
        Update: {
          TableName,
          Key: tally,
          UpdateExpression: 'SET incidentId = :id ADD devices :one, #r :one',
          ExpressionAttributeNames: { '#r': `${REASON_PREFIX}${notice.reason}` },
          ExpressionAttributeValues: { ':one': 1, ':id': incidentId },
        },
      },
      removeCandidate,
    ];
    let joined = true;
    try {
      await this.dynamo.send(new TransactWriteCommand({ TransactItems: transaction }));
    } catch (error) {
      if (!cancelledByCondition(error)) throw error;
      joined = false;
      await this.dynamo.send(new TransactWriteCommand({ TransactItems: [removeCandidate] }));
    }
    // The tally's span only widens, and only beyond the head's as opened, which the incident's span covers already:
    // each side is one conditional write that may find nothing to do.
    if (notice.since > head.lastSince) await ignoringCondition(this.widen(tally, notice, 'lastSince', '<'));
    if (notice.since < head.startedAt) await ignoringCondition(this.widen(tally, notice, 'startedAt', '>'));
    return joined ? 'joined' : 'already';
  }

  async addCandidate(notice: OfflineNotice): Promise<void> {
    await ignoringCondition(
      this.dynamo.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...candidateOf(notice),
            notice: JSON.stringify(notice),
            expiresAt: ttlExpiry(notice.since, CANDIDATE_TTL_DAYS),
          },
          ConditionExpression: 'attribute_not_exists(alertKey)',
        }),
      ),
    );
  }

  /** One query per candidate shard, in parallel: only offline alerts that no growing incident takes read them. */
  async candidates(from: number, to: number): Promise<OfflineNotice[]> {
    const shards = await Promise.all(
      Array.from({ length: CANDIDATE_SHARDS }, (_, shard) =>
        queryPages(this.dynamo, {
          TableName: this.tableName,
          KeyConditionExpression: 'deviceId = :f AND alertKey BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':f': candidatePartition(shard),
            ':from': candidateKey({ since: Math.max(0, from), alertId: '' }),
            ':to': candidateKey({ since: to, alertId: '\uffff' }),
          },
          ConsistentRead: true,
        }),
      ),
    );
    return shards
      .flatMap(({ items }) => items.map((item) => this.parse(storedNotice, item.notice, item.alertKey)))
      .sort((a, b) => a.since - b.since || (a.alertId < b.alertId ? -1 : a.alertId > b.alertId ? 1 : 0));
  }

  async open(
    incident: Incident,
    members: readonly OfflineNotice[],
    owed: OwedFleetAlert,
  ): Promise<'opened' | 'conflict'> {
    const { tableName: TableName } = this;
    const [first, ...rest] = chunks(members, MEMBERS_PER_TRANSACTION);
    const item = {
      ...key(incidentKey(incident.incidentId)),
      schemaVersion: INCIDENT_SCHEMA_VERSION,
      tallyGroups: TALLY_GROUPS,
      ...incident,
      owed: { [owed.alert.alertId]: { alert: JSON.stringify(owed.alert), retryAt: owed.retryAt } },
    };
    try {
      await this.dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName, Item: item, ConditionExpression: 'attribute_not_exists(alertKey)' } },
            this.summaryChange('opened', incident.incidentId),
            ...(first ?? []).flatMap((member) => this.memberOf(incident.incidentId, member)),
          ],
        }),
      );
    } catch (error) {
      if (cancelledByCondition(error)) return 'conflict';
      throw error;
    }
    for (const chunk of rest) {
      try {
        await this.dynamo.send(
          new TransactWriteCommand({
            TransactItems: chunk.flatMap((member) => this.memberOf(incident.incidentId, member)),
          }),
        );
      } catch (error) {
        if (!cancelledByCondition(error)) throw error;
      }
    }
    return 'opened';
  }

  async unrecoveredMemberships(deviceId: string): Promise<string[]> {
    const page = await this.dynamo.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'deviceId = :f AND begins_with(alertKey, :prefix)',
        FilterExpression: 'recovered = :no',
        ExpressionAttributeValues: {
          ':f': ofDevice(deviceId, '').deviceId,
          ':prefix': deviceMemberPrefix(deviceId),
          ':no': false,
        },
        ConsistentRead: true,
      }),
    );
    return (page.Items ?? []).map((item) => String(item.incidentId));
  }

  async recover(incidentId: string, deviceId: string): Promise<Incident | undefined> {
    const { tableName: TableName } = this;
    const head = await this.openHead(incidentId);
    if (!head) return undefined;
    const markRecovered = (sk: string) => ({
      Update: {
        TableName,
        Key: ofDevice(deviceId, sk),
        UpdateExpression: 'SET recovered = :yes',
        ConditionExpression: 'recovered = :no',
        ExpressionAttributeValues: { ':yes': true, ':no': false },
      },
    });
    try {
      await this.dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            markRecovered(memberKey(incidentId, deviceId)),
            markRecovered(`${deviceMemberPrefix(deviceId)}${incidentId}`),
            {
              Update: {
                TableName,
                Key: tallyOf(head, deviceId),
                UpdateExpression: 'SET incidentId = :id ADD recovered :one',
                ExpressionAttributeValues: { ':one': 1, ':id': incidentId },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (cancelledByCondition(error)) return undefined;
      throw error;
    }
    // The return's own look: a lagging read only delays the close to a later return or the sweep.
    return stripOwed(withTallies(head, await this.tallies(head, false)));
  }

  async close(incident: Incident, closedAt: number, owed: OwedFleetAlert): Promise<boolean> {
    const { incidentId } = incident;
    const span: ClosedSpan = {
      incidentId,
      startedAt: incident.startedAt,
      lastSince: incident.lastSince,
      closedAt,
    };
    try {
      await this.dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: key(incidentKey(incidentId)),
                UpdateExpression: 'SET #status = :closed, closedAt = :at, owed.#id = :owed',
                ConditionExpression: '#status = :open',
                ExpressionAttributeNames: { '#status': 'status', '#id': owed.alert.alertId },
                ExpressionAttributeValues: {
                  ':closed': 'closed',
                  ':open': 'open',
                  ':at': closedAt,
                  ':owed': { alert: JSON.stringify(owed.alert), retryAt: owed.retryAt },
                },
              },
            },
            this.summaryChange('closed', incidentId),
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  deviceId: CLOSED_PARTITION,
                  alertKey: closedKey(closedAt, incidentId),
                  schemaVersion: CLOSED_SPAN_SCHEMA_VERSION,
                  ...span,
                  expiresAt: ttlExpiry(closedAt, CLOSED_SPAN_TTL_DAYS),
                },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (cancelledByCondition(error)) return false;
      throw error;
    } finally {
      this.openedHeads.delete(incidentId);
    }
  }

  async owedAlerts(before: number): Promise<OwedFleetAlert[]> {
    const summary = await this.summary();
    const heads = await Promise.all([...summary.owed].map((id) => this.head(id)));
    return heads.flatMap((head) =>
      Object.values(head?.owed ?? {})
        .filter((entry) => entry.retryAt <= before)
        .map((entry) => ({ alert: JSON.parse(entry.alert) as FleetAlert, retryAt: entry.retryAt })),
    );
  }

  async claim(owed: OwedFleetAlert, leaseUntil: number): Promise<boolean> {
    return ignoringCondition(
      this.dynamo.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(incidentKey(owed.alert.incidentId)),
          UpdateExpression: 'SET owed.#id.retryAt = :lease',
          ConditionExpression: 'owed.#id.retryAt = :seen',
          ExpressionAttributeNames: { '#id': owed.alert.alertId },
          ExpressionAttributeValues: { ':lease': leaseUntil, ':seen': owed.retryAt },
        }),
      ),
    );
  }

  async settle(alert: FleetAlert): Promise<void> {
    await this.dynamo.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key(incidentKey(alert.incidentId)),
        UpdateExpression: 'REMOVE owed.#id',
        ExpressionAttributeNames: { '#id': alert.alertId },
      }),
    );
    const head = await this.head(alert.incidentId);
    if (head && Object.keys(head.owed).length === 0) {
      await this.dynamo.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key(SUMMARY),
          UpdateExpression: 'DELETE owed :id',
          ExpressionAttributeValues: { ':id': new Set([alert.incidentId]) },
        }),
      );
    }
  }

  /** A page of heads (one query), and the tallies of each (in parallel). */
  async listIncidents(status: Incident['status'], page: PageRequest): Promise<Page<Incident>> {
    // The filter leaves pages short: read on until the page is full or the incidents end.
    const { items, nextKey } = await queryPages(
      this.dynamo,
      {
        TableName: this.tableName,
        KeyConditionExpression: 'deviceId = :f AND begins_with(alertKey, :p)',
        FilterExpression: '#status = :s',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':f': FLEET_KEY, ':p': 'incident#', ':s': status },
        ScanIndexForward: false,
      },
      { limit: page.limit, startKey: page.after as Record<string, unknown> | undefined },
    );
    const incidents = await Promise.all(
      items.map(async (item) => {
        const head = this.incidentFrom(item);
        return stripOwed(withTallies(head, await this.tallies(head, true)));
      }),
    );
    return { items: incidents, next: nextKey };
  }

  async openCount(): Promise<number> {
    return (await this.summary()).open.size;
  }

  async getIncident(incidentId: string): Promise<Incident | undefined> {
    const incident = await this.incident(incidentId);
    return incident && stripOwed(incident);
  }

  /**
   * A page of an incident's devices, shard after shard: the page token names the shard and where in it to go on.
   */
  async listIncidentDevices(incidentId: string, page: PageRequest): Promise<Page<IncidentMember>> {
    const after = page.after as { shard?: number; key?: Record<string, unknown> } | undefined;
    const items: IncidentMember[] = [];
    let shard = typeof after?.shard === 'number' ? after.shard : 0;
    let startKey = after?.key;
    while (shard < FLEET_SHARDS && items.length < page.limit) {
      const result = await this.dynamo.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'deviceId = :f AND begins_with(alertKey, :p)',
          ExpressionAttributeValues: { ':f': inShard(shard, '').deviceId, ':p': memberPrefix(incidentId) },
          Limit: page.limit - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(result.Items ?? []).map(memberFrom));
      startKey = result.LastEvaluatedKey;
      if (!startKey) shard += 1;
    }
    const next = shard < FLEET_SHARDS ? { shard, ...(startKey ? { key: startKey } : {}) } : undefined;
    return { items, next };
  }

  /** One incident as stored, its head and its tallies added up, read consistently; undefined when there is none. */
  async incident(incidentId: string): Promise<StoredIncident | undefined> {
    const head = await this.head(incidentId);
    return head && withTallies(head, await this.tallies(head, true));
  }

  private async head(incidentId: string): Promise<StoredIncident | undefined> {
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.tableName, Key: key(incidentKey(incidentId)), ConsistentRead: true }),
    );
    return Item && this.incidentFrom(Item);
  }

  /**
   * An incident's tallies, where its head says they are: one Query a group, in parallel (each charged its items'
   * summed size); for a head opened before tally groups, one BatchGetItem of the shards' tallies (charged per item).
   */
  private async tallies(head: StoredIncident, consistent: boolean): Promise<Array<Record<string, unknown>>> {
    if (head.schemaVersion === 1)
      return this.batchGet(
        allShards.map((shard) => inShard(shard, tallyKey(head.incidentId))),
        consistent,
      );
    const groups = await Promise.all(
      Array.from({ length: head.tallyGroups }, (_, group) =>
        queryPages(this.dynamo, {
          TableName: this.tableName,
          KeyConditionExpression: 'deviceId = :p',
          ExpressionAttributeValues: { ':p': tallyPartition(head.incidentId, group) },
          ConsistentRead: consistent,
        }),
      ),
    );
    return groups.flatMap(({ items }) => items);
  }

  /** Items by key, 100 keys a request; keys left unprocessed under load are asked for again. */
  private async batchGet(keys: Key[], consistent: boolean): Promise<Array<Record<string, unknown>>> {
    const found: Array<Record<string, unknown>> = [];
    await Promise.all(
      chunks(keys, 100).map(async (chunk) => {
        let asking = chunk;
        for (let attempt = 0; asking.length > 0; attempt += 1) {
          if (attempt === 10) throw new Error('BatchGetItem kept leaving keys unprocessed');
          const result = await this.dynamo.send(
            new BatchGetCommand({
              RequestItems: { [this.tableName]: { Keys: asking, ConsistentRead: consistent } },
            }),
          );
          found.push(...(result.Responses?.[this.tableName] ?? []));
          asking = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
        }
      }),
    );
    return found;
  }

  private incidentFrom(item: Record<string, unknown>) {
    const { deviceId: _d, alertKey, ...stored } = item;
    return this.parse(storedIncident, stored, alertKey);
  }

  private async summary(): Promise<{ open: Set<string>; owed: Set<string> }> {
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.tableName, Key: key(SUMMARY), ConsistentRead: true }),
    );
    return {
      open: new Set((Item?.open as Set<string> | undefined) ?? []),
      owed: new Set((Item?.owed as Set<string> | undefined) ?? []),
    };
  }

  /** Opening adds the incident to both sets; closing takes it out of the open set and puts it (back) in owed. */
  private summaryChange(change: 'opened' | 'closed', incidentId: string) {
    return {
      Update: {
        TableName: this.tableName,
        Key: key(SUMMARY),
        UpdateExpression: change === 'opened' ? 'ADD #open :id, owed :id' : 'DELETE #open :id ADD owed :id',
        ExpressionAttributeNames: { '#open': 'open' },
        ExpressionAttributeValues: { ':id': new Set([incidentId]) },
      },
    };
  }

  private membershipPuts(incidentId: string, notice: OfflineNotice) {
    const member = {
      incidentId,
      memberDeviceId: notice.deviceId,
      since: notice.since,
      reason: notice.reason,
      recovered: false,
    };
    const put = (sk: string) => ({
      Put: {
        TableName: this.tableName,
        Item: { ...ofDevice(notice.deviceId, sk), ...member },
        ConditionExpression: 'attribute_not_exists(alertKey)',
      },
    });
    return [
      put(memberKey(incidentId, notice.deviceId)),
      put(`${deviceMemberPrefix(notice.deviceId)}${incidentId}`),
    ];
  }

  /** A member written with its incident: its membership, and its candidate taken (it must still be there). */
  private memberOf(incidentId: string, notice: OfflineNotice) {
    return [
      ...this.membershipPuts(incidentId, notice),
      {
        Delete: {
          TableName: this.tableName,
          Key: candidateOf(notice),
          ConditionExpression: 'attribute_exists(alertKey)',
        },
      },
    ];
  }

  private widen(tally: Key, notice: OfflineNotice, field: 'lastSince' | 'startedAt', op: '<' | '>') {
    return this.dynamo.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: tally,
        UpdateExpression: `SET ${field} = :since`,
        ConditionExpression: `attribute_not_exists(${field}) OR ${field} ${op} :since`,
        ExpressionAttributeValues: { ':since': notice.since },
      }),
    );
  }

  private parse<S extends z.core.$ZodType>(schema: S, value: unknown, where: unknown): z.infer<S> {
    let data = value;
    if (typeof value === 'string') {
      try {
        data = JSON.parse(value);
      } catch {
        throw new StoredRecordError(String(where), 'the record is not JSON');
      }
    }
    const result = z.safeParse(schema, data);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new StoredRecordError(
        String(where),
        `${issue?.path.join('.') || 'the record'}: ${issue?.message}`,
      );
    }
    return result.data;
  }
}

type StoredIncident = z.infer<typeof storedIncident>;

/** The tally of `deviceId`'s shard in an incident, where its head says the incident's tallies are. */
function tallyOf(head: StoredIncident, deviceId: string): Key {
  return head.schemaVersion === 1
    ? ofDevice(deviceId, tallyKey(head.incidentId))
    : groupedTallyOf(head.incidentId, deviceId, head.tallyGroups);
}

const numberOr = (value: unknown, fallback: number) => (typeof value === 'number' ? value : fallback);

/** The incident its head and its shards' tallies make: counts added up, the span widened. */
function withTallies(head: StoredIncident, tallies: ReadonlyArray<Record<string, unknown>>): StoredIncident {
  const incident = { ...head, reasons: { ...head.reasons } };
  for (const tally of tallies) {
    incident.devices += numberOr(tally.devices, 0);
    incident.recovered += numberOr(tally.recovered, 0);
    incident.lastSince = Math.max(incident.lastSince, numberOr(tally.lastSince, incident.lastSince));
    incident.startedAt = Math.min(incident.startedAt, numberOr(tally.startedAt, incident.startedAt));
    for (const [name, count] of Object.entries(tally)) {
      if (!name.startsWith(REASON_PREFIX) || typeof count !== 'number') continue;
      const reason = name.slice(REASON_PREFIX.length) as keyof StoredIncident['reasons'];
      incident.reasons[reason] = (incident.reasons[reason] ?? 0) + count;
    }
  }
  return incident;
}

function memberFrom(item: Record<string, unknown>): IncidentMember {
  return {
    deviceId: String(item.memberDeviceId),
    since: Number(item.since),
    reason: String(item.reason),
    recovered: item.recovered === true,
  };
}

/** The incident as the domain reads it: without what only its storage reads (owed alerts, version, tally groups). */
function stripOwed(incident: StoredIncident): Incident {
  const { owed: _o, schemaVersion: _v, tallyGroups: _g, ...rest } = { tallyGroups: undefined, ...incident };
  return rest as Incident;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
