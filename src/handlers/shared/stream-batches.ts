import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { logger } from '../../adapters/observability.js';
import type { DeviceEvent } from '../../domain/device-events.js';
import { storedEventSchema } from './iot-schemas.js';

type StreamImage = Parameters<typeof unmarshall>[0];

export interface DeviceBatch {
  events: DeviceEvent[];
  firstSequenceNumber: string;
}

/**
 * Groups stream records by device (inserted events only, failed connects left out): each device is reconciled once.
 * Used by the stream's reconcile function and by the redrive of batches parked in ReconcileDlq.
 */
export function groupByDevice(event: DynamoDBStreamEvent): Map<string, DeviceBatch> {
  const batches = new Map<string, DeviceBatch>();
  for (const record of event.Records) {
    const image = record.dynamodb?.NewImage;
    if (record.eventName !== 'INSERT' || !image) continue;
    const stored = storedEventSchema.safeParse(unmarshall(image as StreamImage));
    if (!stored.success) {
      logger.error('stream record is not a stored event', {
        sequenceNumber: record.dynamodb?.SequenceNumber,
      });
      continue;
    }
    const deviceEvent = JSON.parse(stored.data.event) as DeviceEvent;
    if (deviceEvent.kind === 'connect_failed') continue;
    const sequenceNumber = record.dynamodb?.SequenceNumber ?? '0';
    const batch = batches.get(stored.data.deviceId);
    if (batch) batch.events.push(deviceEvent);
    else batches.set(stored.data.deviceId, { events: [deviceEvent], firstSequenceNumber: sequenceNumber });
  }
  return batches;
}
