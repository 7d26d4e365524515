import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { StreamedEvent } from '../domain/dead-letters.js';
import type { CountMove } from '../domain/fleet-counts.js';
import * as z from '../shared/zod.js';
import { decodeEventItem } from './dynamodb/event-item.js';
import { readEach, readStored } from './stored-records.js';

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

const countedAsSchema = z.optional(z.string().check(z.minLength(1)));

/** The changes of kind the devices stream's records carry (each device item's old and new `countedAs`). */
export interface CountedChanges {
  moves: CountMove[];
  /** The sequence number of the batch's last record, if it had any. */
  throughSequence?: string;
}

/**
 * The moves of devices between kinds of the fleet counts, from a batch of the devices stream (NEW_AND_OLD_IMAGES).
 * Items without a `countedAs` on either side (the counter items themselves) move nothing. A `countedAs` that is not
 * a kind is reported with its key and left out.
 */
export function countedChangesOfStreamRecords(records: readonly DynamoDBRecord[]): CountedChanges {
  const moves = readEach(
    records,
    (record): CountMove => {
      const key = `devices stream ${record.dynamodb?.SequenceNumber ?? '?'}`;
      return {
        from: readStored(countedAsSchema, key, record.dynamodb?.OldImage?.countedAs?.S, 'OldImage.countedAs'),
        to: readStored(countedAsSchema, key, record.dynamodb?.NewImage?.countedAs?.S, 'NewImage.countedAs'),
      };
    },
    (record) => ({ sequenceNumber: record.dynamodb?.SequenceNumber }),
  );
  const throughSequence = records[records.length - 1]?.dynamodb?.SequenceNumber;
  return { moves, ...(throughSequence ? { throughSequence } : {}) };
}
