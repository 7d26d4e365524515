import { redriveTargets } from '../adapters/dead-letters.js';
import { logger } from '../adapters/observability.js';
import { parseStreamFailureRecord } from '../adapters/stream-dead-letters.js';
import type { RedriveWiring } from '../composition/redrive.js';
import { deviceMessageTopicsFrom } from '../config.js';
import type { ParkedMessage } from '../domain/dead-letters.js';
import { forEachWithLimit } from '../shared/concurrency.js';
import { lambdaShell } from './shared/lambda-shell.js';
import { groupEventsByDevice } from './shared/stream-batches.js';

export interface RedriveResult {
  /** IngestDlq messages fed back through an ingest function. */
  redriven: number;
  /** IngestDlq messages not understood (left in the queue). */
  unreadable: number;
  /** ReconcileDlq batches whose devices were all reconciled again. */
  reconciled: number;
  /** Devices reconciled for those batches. */
  reconciledDevices: number;
  /** ReconcileDlq messages left in the queue: not understood, range no longer in the stream, or a device failed. */
  leftInReconcileDlq: number;
}

/** How long a received message stays hidden from other readers while it is handled. */
const INGEST_HIDE_SECONDS = 60;
const RECONCILE_HIDE_SECONDS = 300;

/**
 * Invoked by hand after an incident. Feeds the messages parked in IngestDlq back through the ingest functions, and
 * reconciles again the devices of the stream batches parked in ReconcileDlq (their records are read back from the
 * stream). A message is removed only once its work was done; one it cannot use stays for a person to look at.
 */
export function buildRedriveHandler(wiring: RedriveWiring, maxMessages = 1000) {
  return lambdaShell(async (): Promise<RedriveResult> => {
    const result: RedriveResult = {
      redriven: 0,
      unreadable: 0,
      reconciled: 0,
      reconciledDevices: 0,
      leftInReconcileDlq: 0,
    };
    await redriveIngestDlq(wiring, result, maxMessages);
    await redriveReconcileDlq(wiring, result, maxMessages);
    logger.info('redrive finished', { ...result });
    return result;
  });
}

/** Feeds each understood IngestDlq message back through its ingest function(s), then removes it. */
async function redriveIngestDlq(wiring: RedriveWiring, result: RedriveResult, maxMessages: number) {
  const topics = deviceMessageTopicsFrom(wiring.config);
  while (result.redriven + result.unreadable < maxMessages) {
    const messages = await wiring.ingestDlq.receive(INGEST_HIDE_SECONDS);
    if (messages.length === 0) return;
    for (const message of messages) {
      const targets = redriveTargets(message.body, topics, wiring.clock.now());
      if (!targets) {
        result.unreadable += 1;
        logger.warn('dead letter not understood; left in the queue', { messageId: message.messageId });
        continue;
      }
      for (const { target, event } of targets) await wiring.ingest.invoke(target, event);
      await wiring.ingestDlq.remove(message);
      result.redriven += 1;
    }
    if (result.unreadable > 0 && result.redriven === 0) return; // only unreadable ones left: stop
  }
}

/** Reconciles again the devices of each batch parked in ReconcileDlq; reconciling is idempotent. */
async function redriveReconcileDlq(wiring: RedriveWiring, result: RedriveResult, maxMessages: number) {
  let handled = 0;
  while (handled < maxMessages) {
    const messages = await wiring.reconcileDlq.receive(RECONCILE_HIDE_SECONDS);
    if (messages.length === 0) return;
    for (const message of messages) {
      handled += 1;
      const devices = await reconcileParkedBatch(wiring, message);
      if (devices === undefined) {
        result.leftInReconcileDlq += 1;
        continue;
      }
      await wiring.reconcileDlq.remove(message);
      result.reconciled += 1;
      result.reconciledDevices += devices;
    }
  }
}

/** The number of devices reconciled again for one parked batch, or undefined when it stays in the queue. */
async function reconcileParkedBatch(
  wiring: RedriveWiring,
  message: ParkedMessage,
): Promise<number | undefined> {
  const range = parseStreamFailureRecord(message.body);
  if (!range) {
    logger.warn('reconcile dead letter not understood; left in the queue', { messageId: message.messageId });
    return undefined;
  }
  const read = await wiring.streamRanges.read(range);
  if (read.status === 'unavailable') {
    logger.error('parked stream batch is no longer in the stream; left in the queue', {
      messageId: message.messageId,
      reason: read.reason,
      shardId: range.shardId,
      startSequenceNumber: range.startSequenceNumber,
      endSequenceNumber: range.endSequenceNumber,
    });
    return undefined;
  }
  const batches = groupEventsByDevice(read.events);
  const failures = await forEachWithLimit([...batches.keys()], 8, async (deviceId) => {
    await wiring.reconciler.reconcile(deviceId, batches.get(deviceId)?.events ?? []);
  });
  for (const failure of failures)
    logger.error('redriven reconcile failed; batch left in the queue', {
      deviceId: failure.key,
      error: failure.error as Error,
    });
  return failures.length > 0 ? undefined : batches.size;
}
