import { createHash } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Rejection, RejectionStore } from '../../domain/ports.js';
import { utcDay } from './alert-ledger.js';
import { ttlExpiry } from './ttl.js';

/** Raw input kept for inspection is capped; the reason and a digest of the whole input are always kept. */
const MAX_KEPT_RAW_BYTES = 32_768;

export class DynamoDbRejectionStore implements RejectionStore {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
  ) {}

  async keep(rejection: Rejection): Promise<void> {
    const digest = createHash('sha256').update(rejection.raw).digest('hex');
    await this.dynamo.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          day: utcDay(rejection.receivedAt),
          rejectionKey: `${String(rejection.receivedAt).padStart(15, '0')}#${digest.slice(0, 16)}`,
          source: rejection.source,
          reason: rejection.reason.slice(0, 2000),
          receivedAt: rejection.receivedAt,
          sha256: digest,
          bytes: Buffer.byteLength(rejection.raw),
          raw: rejection.raw.slice(0, MAX_KEPT_RAW_BYTES),
          expiresAt: ttlExpiry(rejection.receivedAt, this.ttlDays),
        },
      }),
    );
  }
}
