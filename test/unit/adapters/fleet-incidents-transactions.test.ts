import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
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

/** The head of the open incident `i-1`, opened with its tallies under 20 groups of its own. */
const head = {
  deviceId: '$fleet',
  alertKey: 'incident#i-1',
  schemaVersion: 2,
  tallyGroups: 20,
  incidentId: 'i-1',
  status: 'open',
  startedAt: notice.since - 60_000,
  lastSince: notice.since - 30_000,
  devices: 25,
  recovered: 0,
  reasons: { CONNECTION_LOST: 25 },
  sampleDeviceIds: [],
  owed: {},
};

function incidentsOver() {
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  const mock = mockClient(dynamo);
  mock.on(GetCommand).resolves({ Item: head });
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

    // Assert: the tally counted on is under one of the incident's tally groups.
    expect(joined).toBe('already');
    const first = mock.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems;
    expect(first?.[2]).toMatchObject({
      Update: { Key: { deviceId: expect.stringMatching(/^\$fleet#tallies#i-1#(1?[0-9])$/) } },
    });
    // The alert is after the span as opened and not before it: only that side of the tally's span may widen.
    expect(mock.commandCalls(UpdateCommand).map((call) => call.args[0].input.UpdateExpression)).toEqual([
      'SET lastSince = :since',
    ]);
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
