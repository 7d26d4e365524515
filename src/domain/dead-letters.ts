/**
 * The ports of the redrive: the dead-letter queues where work that kept failing waits for a person, the ingest
 * functions it is fed back through, and the events stream a parked batch is read back from.
 */
import type { DeviceEvent } from './device-events.js';

/** A message parked in a dead-letter queue, and the handle that removes it once its work is done. */
export interface ParkedMessage {
  messageId: string;
  body: string;
  receiptHandle: string;
}

export interface DeadLetterQueue {
  /** Up to ten parked messages, hidden from other readers for `hideSeconds` while they are handled. */
  receive(hideSeconds: number): Promise<ParkedMessage[]>;
  /** Removes a message whose work was done. */
  remove(message: ParkedMessage): Promise<void>;
}

/** The functions the IoT rules invoke asynchronously. */
export type IngestFunction = 'ingestPresence' | 'ingestDeviceMessage';

export interface IngestInvoker {
  /** Invokes an ingest function asynchronously, as the IoT rule did. */
  invoke(target: IngestFunction, event: unknown): Promise<void>;
}

/** The range of one shard of the events stream that a parked stream batch names (not its records). */
export interface ParkedStreamRange {
  functionArn: string;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  streamArn: string;
}

/** An event read back from the stream, with its position in its shard. */
export interface StreamedEvent {
  event: DeviceEvent;
  sequenceNumber: string;
}

export type StreamRangeRead =
  | { status: 'read'; events: StreamedEvent[] }
  /** The range has left the stream (older than its 24-hour retention, or the stream is gone). */
  | { status: 'unavailable'; reason: string };

export interface StreamRangeReader {
  /** The events stored in the range, in stream order; records that are not stored events are reported and left out. */
  read(range: ParkedStreamRange): Promise<StreamRangeRead>;
}
