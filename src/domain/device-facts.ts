import { type ConnectionFacts, mergeConnection, sameConnection } from './connection.js';
import type { ConnectedEvent, DeviceEvent, DisconnectedEvent } from './device-events.js';
import type { EpisodeKind, EpisodeMark } from './episodes.js';

/** A Last Will message as received: evidence for a presence device, an end for a device without presence. */
export interface WillFacts {
  eventId: string;
  receivedAt: number;
  payload: unknown;
}

/**
 * What the reconciler keeps about a device: only what can still change an answer. Connections the alert cursor
 * has passed, and wills that can no longer be attached, are dropped by the evaluation (see evaluate.ts).
 */
export interface DeviceFacts {
  deviceId: string;
  /** Set by the first presence event and never cleared: from then on presence alone decides. */
  presence: boolean;
  connections: ConnectionFacts[];
  wills: WillFacts[];
  /** Recent ends that count towards a clientid-conflict or flapping episode (see episodes.ts). */
  marks?: Partial<Record<EpisodeKind, EpisodeMark[]>>;
  /** Latest rule receive time of any event, of a connect (or birth), of a disconnect, of a will. */
  lastEventAt?: number;
  lastConnectedAt?: number;
  lastDisconnectedAt?: number;
  lastWillAt?: number;
}

/** Will payloads are kept in full in the event log; the device record keeps a bounded copy. */
export const MAX_KEPT_PAYLOAD_BYTES = 4096;

export function emptyFacts(deviceId: string): DeviceFacts {
  return { deviceId, presence: false, connections: [], wills: [] };
}

const latest = (a: number | undefined, b: number) => (a === undefined ? b : Math.max(a, b));

function boundedPayload(payload: unknown): unknown {
  const text = JSON.stringify(payload) ?? 'null';
  if (text.length <= MAX_KEPT_PAYLOAD_BYTES) return payload;
  return { truncated: true, bytes: text.length, preview: text.slice(0, 256) };
}

function withConnection(connections: readonly ConnectionFacts[], update: ConnectionFacts): ConnectionFacts[] {
  const existing = connections.find((c) => sameConnection(c, update));
  if (!existing) return [...connections, update];
  return connections.map((c) => (c === existing ? mergeConnection(existing, update) : c));
}

/**
 * The connections once a presence event added what it tells of its connection. (The event also makes the device a
 * presence device for good: `presence: true` beside them.)
 */
function withPresenceConnection(
  facts: DeviceFacts,
  event: ConnectedEvent | DisconnectedEvent,
  side: Partial<ConnectionFacts>,
): ConnectionFacts[] {
  return withConnection(facts.connections, {
    sessionIdentifier: event.sessionIdentifier,
    versionNumber: event.versionNumber,
    source: 'presence',
    principalIdentifier: event.principalIdentifier,
    ...side,
  });
}

/** Folds one event into the facts. Applying the same event twice, or events in another order, gives the same facts. */
export function applyEvent(facts: DeviceFacts, event: DeviceEvent): DeviceFacts {
  const lastEventAt = latest(facts.lastEventAt, event.receivedAt);
  switch (event.kind) {
    case 'connect_failed':
      return facts;
    case 'connected':
      // One spread of the facts: every reconcile folds its events.
      return {
        ...facts,
        presence: true,
        connections: withPresenceConnection(facts, event, {
          startedAt: event.timestamp,
          startSeenAt: event.receivedAt,
          ipAddress: event.ipAddress,
        }),
        lastEventAt,
        lastConnectedAt: latest(facts.lastConnectedAt, event.receivedAt),
      };
    case 'disconnected':
      return {
        ...facts,
        presence: true,
        connections: withPresenceConnection(facts, event, {
          endedAt: event.timestamp,
          endSeenAt: event.receivedAt,
          endReason: event.disconnectReason,
        }),
        lastEventAt,
        lastDisconnectedAt: latest(facts.lastDisconnectedAt, event.receivedAt),
      };
    case 'birth':
      return {
        ...facts,
        connections: withConnection(facts.connections, {
          sessionIdentifier: `birth:${event.eventId}`,
          source: 'birth',
          startedAt: event.receivedAt,
          startSeenAt: event.receivedAt,
        }),
        lastEventAt,
        lastConnectedAt: latest(facts.lastConnectedAt, event.receivedAt),
      };
    case 'will':
      if (facts.wills.some((w) => w.eventId === event.eventId)) return { ...facts, lastEventAt };
      return {
        ...facts,
        wills: [
          ...facts.wills,
          { eventId: event.eventId, receivedAt: event.receivedAt, payload: boundedPayload(event.payload) },
        ],
        lastEventAt,
        lastWillAt: latest(facts.lastWillAt, event.receivedAt),
      };
  }
}

export function applyEvents(facts: DeviceFacts, events: readonly DeviceEvent[]): DeviceFacts {
  return events.reduce(applyEvent, facts);
}
