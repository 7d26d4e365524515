/**
 * Fleet incidents in the alerts table, under the pseudo-device `$fleet` (beside the fleet alerts' history):
 *   fleet#summary                   the open incidents and those with an alert still owed (string sets)
 *   incident#<id>                   counts, reasons, samples, status, owed alerts (schemaVersion 1)
 *   member#<id>#<device>            one per member device: listed for GET /incidents/{id}
 *   devmember#<device>#<id>         the same membership, found from the device when it comes back
 *   candidate#<since>#<alertId>     an offline alert no incident took yet (expires after two days)
 * Every count moves in the same transaction as the item that makes it happen, so a retry never counts twice.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
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
  FLEET_KEY,
  type FleetAlert,
  type Incident,
  type OfflineNotice,
} from '../../domain/fleet-incidents.js';
import type { FleetIncidentStore, OwedFleetAlert } from '../../domain/fleet-tracker.js';
import type { IncidentMember, IncidentQueries, Page, PageRequest } from '../../domain/queries.js';
import * as z from '../../shared/zod.js';
import { queryPages } from './paging.js';
import { ttlExpiry } from './ttl.js';

const INCIDENT_SCHEMA_VERSION = 1;
/** Members written with the incident itself; more are attached in further transactions (100 items at most). */
const MEMBERS_PER_TRANSACTION = 30;
const CANDIDATE_TTL_DAYS = 2;

const reason = z.enum([...DISCONNECT_REASONS, LAST_WILL_REASON]);
const storedIncident = z.object({
  schemaVersion: z.literal(INCIDENT_SCHEMA_VERSION),
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
});
const storedNotice = z.object({ alertId: z.string(), deviceId: z.string(), since: z.number(), reason });

const key = (sk: string) => ({ deviceId: FLEET_KEY, alertKey: sk });
const SUMMARY = 'fleet#summary';
const incidentKey = (id: string) => `incident#${id}`;
const memberKey = (id: string, deviceId: string) => `member#${id}#${encodeURIComponent(deviceId)}`;
const deviceMemberPrefix = (deviceId: string) => `devmember#${encodeURIComponent(deviceId)}#`;
const candidateKey = (notice: Pick<OfflineNotice, 'since' | 'alertId'>) =>
  `candidate#${String(notice.since).padStart(15, '0')}#${notice.alertId}`;

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
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async openIncidents(): Promise<Incident[]> {
    const summary = await this.summary();
    const incidents = await Promise.all([...summary.open].map((id) => this.incident(id)));
    return incidents.flatMap((i) => (i?.status === 'open' ? [stripOwed(i)] : []));
  }

  async join(incidentId: string, notice: OfflineNotice): Promise<'joined' | 'already'> {
    const { tableName: TableName } = this;
    const transaction: TransactWriteCommandInput['TransactItems'] = [
      ...this.membershipPuts(incidentId, notice),
      {
        Update: {
          TableName,
          Key: key(incidentKey(incidentId)),
          UpdateExpression: 'ADD devices :one SET reasons.#r = if_not_exists(reasons.#r, :zero) + :one',
          ExpressionAttributeNames: { '#r': notice.reason },
          ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
          ConditionExpression: 'attribute_exists(alertKey)',
        },
      },
      { Delete: { TableName, Key: key(candidateKey(notice)) } },
    ];
    let joined = true;
    try {
      await this.dynamo.send(new TransactWriteCommand({ TransactItems: transaction }));
    } catch (error) {
      if (!cancelledByCondition(error)) throw error;
      joined = false;
      await this.dynamo.send(new TransactWriteCommand({ TransactItems: [transaction[3] as never] }));
    }
    // The incident's span only widens: each side is one conditional write that may find nothing to do.
    await ignoringCondition(this.widen(incidentId, 'lastSince', notice.since, '<'));
    await ignoringCondition(this.widen(incidentId, 'startedAt', notice.since, '>'));
    return joined ? 'joined' : 'already';
  }

  async addCandidate(notice: OfflineNotice): Promise<void> {
    await ignoringCondition(
      this.dynamo.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key(candidateKey(notice)),
            notice: JSON.stringify(notice),
            expiresAt: ttlExpiry(notice.since, CANDIDATE_TTL_DAYS),
          },
          ConditionExpression: 'attribute_not_exists(alertKey)',
        }),
      ),
    );
  }

  async candidates(from: number, to: number): Promise<OfflineNotice[]> {
    const { items } = await queryPages(this.dynamo, {
      TableName: this.tableName,
      KeyConditionExpression: 'deviceId = :f AND alertKey BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':f': FLEET_KEY,
        ':from': candidateKey({ since: Math.max(0, from), alertId: '' }),
        ':to': candidateKey({ since: to, alertId: '\uffff' }),
      },
      ConsistentRead: true,
    });
    return items.map((item) => this.parse(storedNotice, item.notice, item.alertKey));
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
        ExpressionAttributeValues: { ':f': FLEET_KEY, ':prefix': deviceMemberPrefix(deviceId), ':no': false },
        ConsistentRead: true,
      }),
    );
    return (page.Items ?? []).map((item) => String(item.incidentId));
  }

  async recover(incidentId: string, deviceId: string): Promise<Incident | undefined> {
    const { tableName: TableName } = this;
    const markRecovered = (sk: string) => ({
      Update: {
        TableName,
        Key: key(sk),
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
                Key: key(incidentKey(incidentId)),
                UpdateExpression: 'ADD recovered :one',
                ExpressionAttributeValues: { ':one': 1 },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (cancelledByCondition(error)) return undefined;
      throw error;
    }
    const incident = await this.incident(incidentId);
    return incident && stripOwed(incident);
  }

  async close(incidentId: string, closedAt: number, owed: OwedFleetAlert): Promise<boolean> {
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
          ],
        }),
      );
      return true;
    } catch (error) {
      if (cancelledByCondition(error)) return false;
      throw error;
    }
  }

  async owedAlerts(before: number): Promise<OwedFleetAlert[]> {
    const summary = await this.summary();
    const incidents = await Promise.all([...summary.owed].map((id) => this.incident(id)));
    return incidents.flatMap((incident) =>
      Object.values(incident?.owed ?? {})
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
    const incident = await this.incident(alert.incidentId);
    if (incident && Object.keys(incident.owed).length === 0) {
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
    return { items: items.map((item) => stripOwed(this.incidentFrom(item))), next: nextKey };
  }

  async openCount(): Promise<number> {
    return (await this.summary()).open.size;
  }

  async getIncident(incidentId: string): Promise<Incident | undefined> {
    const incident = await this.incident(incidentId);
    return incident && stripOwed(incident);
  }

  async listIncidentDevices(incidentId: string, page: PageRequest): Promise<Page<IncidentMember>> {
    const result = await this.dynamo.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'deviceId = :f AND begins_with(alertKey, :p)',
        ExpressionAttributeValues: { ':f': FLEET_KEY, ':p': `member#${incidentId}#` },
        Limit: page.limit,
        ExclusiveStartKey: page.after as Record<string, unknown> | undefined,
      }),
    );
    return {
      items: (result.Items ?? []).map((item) => ({
        deviceId: String(item.memberDeviceId),
        since: Number(item.since),
        reason: String(item.reason),
        recovered: item.recovered === true,
      })),
      next: result.LastEvaluatedKey,
    };
  }

  /** One incident as stored, validated; undefined when there is none. */
  async incident(incidentId: string): Promise<z.infer<typeof storedIncident> | undefined> {
    const { Item } = await this.dynamo.send(
      new GetCommand({ TableName: this.tableName, Key: key(incidentKey(incidentId)), ConsistentRead: true }),
    );
    return Item && this.incidentFrom(Item);
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
        Item: { ...key(sk), ...member },
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
          Key: key(candidateKey(notice)),
          ConditionExpression: 'attribute_exists(alertKey)',
        },
      },
    ];
  }

  private widen(incidentId: string, field: 'lastSince' | 'startedAt', since: number, op: '<' | '>') {
    return this.dynamo.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key(incidentKey(incidentId)),
        UpdateExpression: `SET ${field} = :since`,
        ConditionExpression: `${field} ${op} :since`,
        ExpressionAttributeValues: { ':since': since },
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

function stripOwed(incident: z.infer<typeof storedIncident>): Incident {
  const { owed: _o, schemaVersion: _v, ...rest } = incident;
  return rest as Incident;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
