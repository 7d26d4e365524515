import type { DynamoDBStreamEvent } from 'aws-lambda';
import { eventsOfStreamRecords } from '../../adapters/stream-images.js';
import type { StreamedEvent } from '../../domain/dead-letters.js';
import type { DeviceEvent } from '../../domain/device-events.js';

export interface DeviceBatch {
  events: DeviceEvent[];
  firstSequenceNumber: string;
}

/**
 * Groups streamed events by device (failed connects left out): each device is reconciled once. Used by the
 * stream's reconcile function and by the redrive of batches parked in ReconcileDlq.
 */
export function groupEventsByDevice(streamed: readonly StreamedEvent[]): Map<string, DeviceBatch> {
  const batches = new Map<string, DeviceBatch>();
  for (const { event, sequenceNumber } of streamed) {
    if (event.kind === 'connect_failed') continue;
    const batch = batches.get(event.deviceId);
    if (batch) batch.events.push(event);
    else batches.set(event.deviceId, { events: [event], firstSequenceNumber: sequenceNumber });
  }
  return batches;
}

/** The inserted events of a stream batch, grouped by device; unreadable records are reported and left out. */
export function groupByDevice(event: DynamoDBStreamEvent): Map<string, DeviceBatch> {
  return groupEventsByDevice(eventsOfStreamRecords(event.Records));
}
