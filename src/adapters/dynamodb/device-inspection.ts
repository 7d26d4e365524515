/**
 * A device item as a person reads it: the record decoded from its compact form, and the view it evaluates to.
 * `npm run device` prints it; an operator needs no knowledge of the stored form.
 */
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { evaluateDevice } from '../../domain/evaluate.js';
import type { PresenceSettings } from '../../domain/settings.js';
import { decodeDeviceRecord } from './device-record.js';

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** The device item decoded, or undefined when the table has no such device. */
export async function inspectDevice(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  deviceId: string,
  settings: PresenceSettings,
  now: number,
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await dynamo.send(new GetCommand({ TableName: tableName, Key: { deviceId } }));
  if (!Item) return undefined;
  const record = decodeDeviceRecord(deviceId, Item.record);
  const view = evaluateDevice(record.facts, record.cursor, now, settings).view;
  return {
    deviceId,
    revision: Item.revision,
    evaluatedAt: iso(now),
    status: view?.status ?? null,
    since: iso(view?.since),
    settled: view?.settled ?? null,
    disconnectReason: view?.disconnectReason ?? null,
    alertCursor: record.cursor ?? null,
    view: view ?? null,
    record,
  };
}
