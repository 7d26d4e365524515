import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { StreamedEvent } from '../domain/dead-letters.js';
import { decodeEventItem } from './dynamodb/event-item.js';
import { readEach } from './stored-records.js';

type StreamImage = Parameters<typeof unmarshall>[0];

/**
 * The events the events stream's records carry (inserted items only, in stream order). A NEW_IMAGE is an item of
 * the event log and is read through its schema: one that cannot be read is reported with its key, reason and
 * sequence number, and left out, so that it never fails the other records of its batch.
 */
export function eventsOfStreamRecords(records: readonly DynamoDBRecord[]): StreamedEvent[] {
  return readEach(
    records,
    (record) => {
      const image = record.dynamodb?.NewImage;
      if (record.eventName !== 'INSERT' || !image) return undefined;
      const { event } = decodeEventItem(unmarshall(image as StreamImage));
      return { event, sequenceNumber: record.dynamodb?.SequenceNumber ?? '0' };
    },
    (record) => ({ sequenceNumber: record.dynamodb?.SequenceNumber }),
  );
}
