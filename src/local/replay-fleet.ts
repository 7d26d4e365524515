/**
 * Fleet incidents of a replay. The replay runs groups of devices in deployments of their own, each on its own
 * virtual clock, so no group sees the fleet: their reconcilers publish device alerts without placing them. This
 * pass places every offline and online alert of the whole fleet in the order they were published, at the time
 * they were published, as the deployed reconciler places each one just before it publishes it. The fleet alerts go
 * to the first deployment's topic and are read back from its inbox, as received.
 */

import { DynamoDbAlertLedger } from '../adapters/dynamodb/alert-ledger.js';
import { DynamoDbFleetIncidents } from '../adapters/dynamodb/fleet-incidents.js';
import { SnsAlertPublisher } from '../adapters/sns-alert-publisher.js';
import { fleetRuleFrom, parseConfig } from '../config.js';
import { DISCONNECT_REASONS, type DisconnectReason, LAST_WILL_REASON } from '../domain/device-events.js';
import { FleetTracker, type PlacedAlert } from '../domain/fleet-tracker.js';
import { PUBLISH_LEASE_MS } from '../domain/reconciler.js';
import { deploymentClients, type ReceivedAlert, receiveAlerts } from './runtime.js';
import type { LocalAws } from './services/local-aws.js';

/** A device alert of the replay: what placing reads of it, and when it was published. */
export interface PublishedDeviceAlert {
  alertId: string;
  type: string;
  deviceId: string;
  since: number;
  disconnectReason: string | null;
  publishedAt: number;
}

export interface FleetPass {
  /** The fleet alerts, as received from the topic. */
  fleetAlerts: ReceivedAlert[];
  /** The incident each device alert was placed in, by alertId. */
  incidentOf: Map<string, string>;
}

const KNOWN_REASONS: ReadonlySet<string> = new Set([...DISCONNECT_REASONS, LAST_WILL_REASON]);
const reasonOf = (reason: string | null): DisconnectReason | undefined =>
  reason !== null && KNOWN_REASONS.has(reason) ? (reason as DisconnectReason) : undefined;

/**
 * Faults injected in the run strike this pass too. Placing is idempotent: a placement that failed is made again, as
 * the deployed reconciler's next attempt would.
 */
async function again<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await step();
    } catch (error) {
      if (attempt === 20) throw error;
    }
  }
}

export async function placeFleetIncidents(
  aws: LocalAws,
  deviceAlerts: readonly PublishedDeviceAlert[],
): Promise<FleetPass> {
  const env = { ...process.env, ...aws.env };
  const config = parseConfig(env);
  const clients = deploymentClients(aws, env);
  let now = 0;
  const clock = { now: () => now };
  const tracker = new FleetTracker({
    store: new DynamoDbFleetIncidents(clients.dynamo, config.ALERTS_TABLE),
    history: new DynamoDbAlertLedger(clients.dynamo, config.ALERTS_TABLE, config.ALERT_TTL_DAYS),
    publisher: new SnsAlertPublisher(clients.sns, config.ALERT_TOPIC_ARN),
    clock,
    rule: fleetRuleFrom(config),
    leaseMs: PUBLISH_LEASE_MS,
  });
  const incidentOf = new Map<string, string>();
  try {
    const inOrder = deviceAlerts
      .filter((alert) => alert.type === 'offline' || alert.type === 'online')
      .sort((a, b) => a.publishedAt - b.publishedAt || a.alertId.localeCompare(b.alertId));
    for (const alert of inOrder) {
      now = Math.max(now, alert.publishedAt);
      const placed: PlacedAlert = {
        type: alert.type as PlacedAlert['type'],
        alertId: alert.alertId,
        deviceId: alert.deviceId,
        since: alert.since,
        disconnectReason: reasonOf(alert.disconnectReason),
      };
      const incidentId = await again(() => tracker.place(placed));
      if (incidentId !== undefined) incidentOf.set(alert.alertId, incidentId);
    }
    // What SNS refused, the scheduled sweep publishes once the lease ended.
    for (let sweep = 0; sweep < 10; sweep += 1) {
      now += PUBLISH_LEASE_MS;
      await again(() => tracker.sweep());
    }
    return { fleetAlerts: await receiveAlerts(clients.sqs, aws.alertQueueUrl), incidentOf };
  } finally {
    clients.dynamo.destroy();
    clients.sns.destroy();
    clients.sqs.destroy();
  }
}
