import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { DynamoDbFleetIncidents } from '../../../src/adapters/dynamodb/fleet-incidents.js';
import type { OfflineNotice } from '../../../src/domain/fleet-incidents.js';

const notice: OfflineNotice = {
  alertId: 'thing-1/offline/s-1/1',
  deviceId: 'thing-1',
  since: 1_793_520_000_000,
  reason: 'CONNECTION_LOST',
};

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

function incidentsOver() {
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  const mock = mockClient(dynamo);
  mock.on(UpdateCommand).resolves({});
  return { incidents: new DynamoDbFleetIncidents(dynamo, 'alerts'), mock };
}

describe('joining a fleet incident when its transaction is cancelled', () => {
  it('answers already when a membership exists (ConditionalCheckFailed), and still takes the candidate', async () => {
    // Arrange: the member put's condition failed; the others were not the cause.
    const { incidents, mock } = incidentsOver();
    mock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled('ConditionalCheckFailed', 'None', 'None', 'None'))
      .resolves({});

    // Act
    const joined = await incidents.join('i-1', notice);

    // Assert
    expect(joined).toBe('already');
    const retry = mock.commandCalls(TransactWriteCommand)[1]?.args[0].input.TransactItems;
    expect(retry).toHaveLength(1);
    // On a candidate shard: never on the `$fleet` partition of the incidents' heads.
    expect(retry?.[0]).toMatchObject({
      Delete: { Key: { deviceId: expect.stringMatching(/^\$fleet#candidates#\d$/) } },
    });
  });

  it.each([
    ['a conflicting transaction', ['None', 'TransactionConflict', 'None', 'None']],
    ['throttling', ['ThrottlingError', 'None', 'None', 'None']],
  ])('fails the join when %s cancelled it, so that the caller retries', async (_label, codes) => {
    // Arrange
    const { incidents, mock } = incidentsOver();
    mock.on(TransactWriteCommand).rejects(cancelled(...codes));

    // Act
    const joining = incidents.join('i-1', notice);

    // Assert
    await expect(joining).rejects.toBeInstanceOf(TransactionCanceledException);
    expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });
});
