/**
 * Local stand-in for AWS IoT Core's MQTT endpoint (MQTT 3.1.1, and MQTT 5 through mqtt5-bridge.ts), built on aedes.
 *
 * Besides brokering MQTT it emits the AWS IoT lifecycle ("presence") events on
 * `$aws/events/presence/{connected,disconnected}/<clientId>` with the same JSON
 * shape, session identifiers, version numbers and disconnect reasons as AWS, and
 * reports every publish (presence events, wills, client messages) through
 * `onPublish` so the local stack can apply its IoT topic rules.
 *
 * aedes 1.x quirks handled here:
 * - aedes emits 'client' for the NEW client only after it has closed the old one
 *   on a client-id takeover, so the takeover is detected by wrapping the
 *   instance's `registerClient`, which runs before the old client is closed.
 * - 'clientDisconnect' is only emitted when `broker.clients[id]` is set, and
 *   aedes does not check that it is the same client object; a takeover racing a
 *   close can therefore lose it. The end of a session is taken from whichever
 *   comes first: 'clientDisconnect' or the end of the client's socket.
 * - 'keepaliveTimeout' is emitted just before the keep-alive 'clientError', and a
 *   graceful DISCONNECT only sets the private `client._disconnected` flag before
 *   destroying the socket; both are read to pick the disconnect reason.
 * - `broker.close()` only closes registered clients, so sockets that never sent a
 *   CONNECT are tracked and destroyed here, otherwise `server.close()` would hang.
 * - aedes drops a message for a subscriber whose per-client "duplicates" counter has
 *   already seen a later message of the same broker: a dedupe meant for overlapping
 *   subscriptions, which assumes messages reach subscribers in the order they were
 *   published. A QoS 1 message (a will) waits for the persistence before it is
 *   delivered, so the QoS 0 presence event published after it overtakes it and the
 *   will was lost for every subscriber that received both (`#` and `$aws/events/#`).
 *   That counter is switched off per client in the `preConnect` hook, and
 *   `authorizeForward` drops exact duplicates (same broker id and counter) instead.
 *
 * These private parts are checked at start-up against the aedes versions they were
 * verified on; another version fails the start with a message naming them.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { createServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { finished } from 'node:stream';
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket, type Subscription } from 'aedes';
import {
  type BrokerState,
  BrokerStateUnreadableError,
  emptyBrokerState,
  loadBrokerState,
  restorePacket,
  type StoredConnection,
  type StoredSession,
  saveBrokerState,
  storePacket,
} from './mqtt-broker-state.js';
import { acceptMqttConnection } from './mqtt-front.js';
import {
  bridgeMqtt5,
  grantedSessionExpiry,
  MAX_SESSION_EXPIRY_SECONDS,
  type Mqtt5BridgeHooks,
  ReasonCode,
  toMqtt311Clean,
} from './mqtt5-bridge.js';
import { assertVerifiedPrivateParts } from './private-parts.js';

const PRESENCE_TOPIC_PREFIX = '$aws/events/presence/';
const SUBSCRIPTIONS_TOPIC_PREFIX = '$aws/events/subscriptions/';
const DEFAULT_VERSION_RESET_MS = 3_600_000;

/** How long AWS keeps the persistent session of an MQTT 3.1.1 client (clean session 0) by default. */
const MQTT311_PERSISTENT_SESSION_SECONDS = 3_600;

/** The DISCONNECT reason code an MQTT 5 client gets before the broker closes its connection. */
const MQTT5_DISCONNECT_REASON: Record<DisconnectReason, number | null> = {
  CLIENT_INITIATED_DISCONNECT: null,
  CONNECTION_LOST: null,
  DUPLICATE_CLIENTID: ReasonCode.sessionTakenOver,
  MQTT_KEEP_ALIVE_TIMEOUT: ReasonCode.keepAliveTimeout,
  SERVER_INITIATED_DISCONNECT: ReasonCode.serverShuttingDown,
  FORBIDDEN_ACCESS: ReasonCode.notAuthorized,
  CLIENT_ERROR: ReasonCode.protocolError,
};

/** aedes versions whose private parts used here (see the header) were checked. */
const VERIFIED_AEDES_VERSIONS = ['1.2.0'];

/** AWS IoT disconnect reasons this broker can produce. */
type DisconnectReason =
  | 'CLIENT_INITIATED_DISCONNECT'
  | 'MQTT_KEEP_ALIVE_TIMEOUT'
  | 'CONNECTION_LOST'
  | 'DUPLICATE_CLIENTID'
  | 'SERVER_INITIATED_DISCONNECT'
  | 'FORBIDDEN_ACCESS'
  | 'CLIENT_ERROR';

export interface PresenceConnectedEvent {
  clientId: string;
  timestamp: number;
  eventType: 'connected';
  sessionIdentifier: string;
  principalIdentifier: string;
  ipAddress: string;
  versionNumber: number;
}

export interface PresenceDisconnectedEvent {
  clientId: string;
  timestamp: number;
  eventType: 'disconnected';
  sessionIdentifier: string;
  principalIdentifier: string;
  clientInitiatedDisconnect: boolean;
  disconnectReason: DisconnectReason;
  versionNumber: number;
}

interface PresenceConnectFailedEvent {
  clientId: string;
  timestamp: number;
  eventType: 'connect_failed';
  connectFailureReason: 'AUTHORIZATION_FAILED';
  principalIdentifier: string;
  sessionIdentifier: string;
  ipAddress: string;
}

/** `$aws/events/subscriptions/subscribed|unsubscribed/<clientId>`. */
interface SubscriptionEvent {
  clientId: string;
  timestamp: number;
  eventType: 'subscribed' | 'unsubscribed';
  sessionIdentifier: string;
  principalIdentifier: string;
  topics: string[];
}

/**
 * Which client ids may connect, as an AWS IoT policy's `iot:Connect` on `client/<pattern>` would say:
 * `*` matches any run of characters, `?` exactly one, everything else itself. A client id matching a
 * `deny` pattern is refused; otherwise it must match an `allow` pattern.
 */
export interface LocalIotPolicy {
  allow: string[];
  deny: string[];
}

const ALLOW_ALL_POLICY: LocalIotPolicy = { allow: ['*'], deny: [] };

export interface BrokerPublish {
  topic: string;
  payload: Buffer;
  /** Publishing client; null for broker-originated messages (presence events); the will's owner for wills. */
  clientId: string | null;
  receivedAt: number;
}

export interface IotCoreBrokerOptions {
  /** Interface to bind; default 127.0.0.1 (loopback only). */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** How long a client id must stay disconnected before its versionNumber restarts at 0. */
  versionResetMs?: number;
  /** Clock for event timestamps, receivedAt and the version reset. */
  now?: () => number;
  /** Called for every publish through the broker. Exceptions and rejections are logged, not propagated. */
  onPublish?: (message: BrokerPublish) => void;
  /** Which client ids may connect; default: `LOCAL_IOT_POLICY` from the environment, else everyone. */
  policy?: LocalIotPolicy;
  /**
   * Where the broker keeps what AWS IoT Core keeps across its restarts (mqtt-broker-state.ts): versionNumbers,
   * persistent sessions, retained messages, and the connections live at the stop, which the next start ends with a
   * disconnected event (SERVER_INITIATED_DISCONNECT) and their wills. Default: nothing kept, and stop() ends the
   * connections itself.
   */
  stateFile?: string;
}

export interface IotCoreBroker {
  port: number;
  url: string;
  /** Drops every connection (presence events, wills), closes the server and resolves when the port is free. */
  stop(): Promise<void>;
  /** Broker-side drop of every connection, like an AWS maintenance: SERVER_INITIATED_DISCONNECT, wills published. */
  dropAllClients(): void;
  /** Client ids with a live (connected) session. */
  connectedClientIds(): string[];
  /** The connections an earlier run left live, ended at this start (disconnected event and will published). */
  endedAtStart: number;
}

interface Session {
  clientId: string;
  sessionIdentifier: string;
  principalIdentifier: string;
  versionNumber: number;
  /** Reason decided by the broker before the connection ended (first one wins). */
  reason: DisconnectReason | null;
  ended: boolean;
}

interface ClientIdRecord {
  versionNumber: number;
  liveSessions: number;
  lastDisconnectedAt: number;
}

/** The parts of aedes that are not in its public typings. */
interface AedesInternals {
  version: string;
  persistence: { cleanSubscriptions(client: { id: string }): Promise<unknown> };
  clients: Record<string, Client | undefined>;
  registerClient(client: Client): void;
  publish(packet: PublishPacket, client: Client | null, done?: (error?: Error) => void): void;
}

type ClientInternals = Client & { _disconnected?: boolean; duplicates?: Record<string, number> };

/** What aedes hands to authorizeForward: the packet with the broker id and counter it was published with. */
type ForwardedPacket = AedesPublishPacket & { brokerId?: string | null; brokerCounter?: number };

/** How many recently forwarded message identities each client remembers to drop duplicates. */
const FORWARDED_MEMORY = 1_024;

/** Client ids that contain `+` or `#` get no lifecycle events on AWS, and are not tracked here. */
function hasLifecycle(clientId: string): boolean {
  return !clientId.includes('+') && !clientId.includes('#');
}

function patternToRegExp(pattern: string): RegExp {
  const source = [...pattern]
    .map((character) => {
      if (character === '*') return '.*';
      if (character === '?') return '.';
      return character.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${source}$`, 'su');
}

/** True when the policy lets this client id connect. */
export function isClientIdAllowed(policy: LocalIotPolicy, clientId: string): boolean {
  const matches = (pattern: string) => patternToRegExp(pattern).test(clientId);
  return !policy.deny.some(matches) && policy.allow.some(matches);
}

/**
 * Reads `LOCAL_IOT_POLICY`: JSON `{"allow": [patterns], "deny": [patterns]}`, both optional (`allow`
 * defaults to `["*"]`, `deny` to `[]`). Unset or empty means everyone may connect. Anything else fails.
 */
export function parseLocalIotPolicy(text: string | undefined): LocalIotPolicy {
  if (text === undefined || text.trim() === '') return ALLOW_ALL_POLICY;
  const fail = (why: string): never => {
    throw new Error(
      `LOCAL_IOT_POLICY ${why}: expected JSON such as {"allow": ["thing-*"], "deny": ["thing-13"]}`,
    );
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail('is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail('is not an object');
  const record = parsed as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => key !== 'allow' && key !== 'deny');
  if (unknown.length > 0) fail(`has unknown keys ${unknown.join(', ')}`);
  const list = (key: 'allow' | 'deny', fallback: string[]): string[] => {
    const value = record[key];
    if (value === undefined) return fallback;
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item.length > 0)) {
      return fail(`"${key}" is not a list of non-empty strings`);
    }
    return value as string[];
  };
  return { allow: list('allow', ['*']), deny: list('deny', []) };
}

/** Errors that mean the transport went away rather than the client misbehaving. */
const TRANSPORT_ERROR_MESSAGES = new Set(['connection closed', 'drain timeout', 'keep alive timeout']);

function isTransportError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' || TRANSPORT_ERROR_MESSAGES.has(error.message);
}

function principalFor(clientId: string): string {
  return createHash('sha256').update(`local:${clientId}`).digest('hex');
}

function remoteAddressOf(client: Client): string {
  const address = (client.conn as Partial<Socket>).remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

function reportError(context: string, error: unknown): void {
  console.error(`[iot-core-broker] ${context}:`, error);
}

export async function startIotCoreBroker(options: IotCoreBrokerOptions = {}): Promise<IotCoreBroker> {
  const host = options.host ?? '127.0.0.1';
  const versionResetMs = options.versionResetMs ?? DEFAULT_VERSION_RESET_MS;
  const now = options.now ?? Date.now;
  const onPublish = options.onPublish;
  const policy = options.policy ?? parseLocalIotPolicy(process.env.LOCAL_IOT_POLICY);

  const sessions = new Map<Client, Session>();
  const liveByClientId = new Map<string, Client>();
  const records = new Map<string, ClientIdRecord>();
  const sockets = new Set<Socket>();
  /** The reason each ended session was given, for the DISCONNECT an MQTT 5 client gets. */
  const finalReasons = new WeakMap<Client, DisconnectReason>();
  /** The session expiry granted to each MQTT 5 connection (MQTT 3.1.1 ones get AWS's default). */
  const sessionExpiryOf = new WeakMap<Duplex, number>();
  /** The aedes side of each bridged MQTT 5 socket. */
  const bridgeOf = new WeakMap<Socket, Duplex>();
  /** Persistent sessions waiting for their expiry, by client id. */
  const expiryTimers = new Map<string, NodeJS.Timeout>();

  const stateFile = options.stateFile;
  /** The persistent sessions (clean session 0 / MQTT 5 session expiry > 0) this broker keeps, by client id. */
  const persistentSessions = new Map<string, Pick<StoredSession, 'expirySeconds' | 'expiresAt'>>();
  /** Set once stop() saved the state: what happens after is the next start's to tell. */
  let frozen = false;

  let inflightPublishes = 0;
  let idleWaiters: Array<() => void> = [];

  const forwarded = new WeakMap<Client, Set<string>>();

  const broker = await Aedes.createBroker({
    preConnect(client, _packet, callback) {
      const internal = client as ClientInternals;
      if (internal.duplicates === null || typeof internal.duplicates !== 'object') {
        reportError('preConnect', new Error('aedes Client.duplicates is gone: see VERIFIED_AEDES_VERSIONS'));
        callback(new Error('broker misconfigured'), false);
        return;
      }
      // aedes' ordering-based dedupe (see the header): never "already seen"; authorizeForward dedupes.
      internal.duplicates = new Proxy(Object.create(null) as Record<string, number>, {
        get: () => undefined,
        set: () => true,
      });
      callback(null, true);
    },
    authorizeForward(client, packet) {
      const { brokerId, brokerCounter } = packet as ForwardedPacket;
      if (!brokerId) return packet;
      const identity = `${brokerId}:${brokerCounter}`;
      let seen = forwarded.get(client);
      if (!seen) {
        seen = new Set();
        forwarded.set(client, seen);
      }
      // The same message reaches a client once per matching subscription, one right after the other.
      if (seen.has(identity)) return null;
      seen.add(identity);
      if (seen.size > FORWARDED_MEMORY) seen.delete(seen.values().next().value as string);
      return packet;
    },
    authenticate(client, _username, _password, callback) {
      if (isClientIdAllowed(policy, client.id)) {
        callback(null, true);
        return;
      }
      if (hasLifecycle(client.id)) {
        const event: PresenceConnectFailedEvent = {
          clientId: client.id,
          timestamp: now(),
          eventType: 'connect_failed',
          connectFailureReason: 'AUTHORIZATION_FAILED',
          principalIdentifier: principalFor(client.id),
          sessionIdentifier: randomUUID(),
          ipAddress: remoteAddressOf(client),
        };
        publishEvent(`${PRESENCE_TOPIC_PREFIX}connect_failed/${client.id}`, event);
      }
      // CONNACK 0x05 (MQTT 3.1.1) / 0x87 (MQTT 5): not authorized.
      callback(Object.assign(new Error('not authorized'), { returnCode: 5 as const }), false);
    },
    // Clients may not impersonate the broker on its reserved topics. aedes' default only guards $SYS/.
    authorizePublish(client, packet, callback) {
      const topic = packet.topic;
      if (topic.startsWith('$SYS/') || topic.startsWith('$aws/events/')) {
        // A live client publishing there is disconnected as AWS does; the same check on a will
        // (client already closed) only suppresses the will.
        const session = client && !client.closed ? sessions.get(client) : undefined;
        if (session) session.reason ??= 'FORBIDDEN_ACCESS';
        callback(new Error(`${topic} is a reserved topic`));
        return;
      }
      callback(null);
    },
  });
  const internals = broker as unknown as AedesInternals;
  try {
    assertVerifiedPrivateParts({
      dependency: 'aedes',
      installed: internals.version,
      verified: VERIFIED_AEDES_VERSIONS,
      parts: {
        'Aedes.registerClient()': { value: internals.registerClient, kind: 'function' },
        'Aedes.publish()': { value: internals.publish, kind: 'function' },
        'Aedes.clients': { value: internals.clients, kind: 'object' },
      },
      purpose:
        'detect client-id takeovers, wait for in-flight publishes, and read Client.duplicates and ' +
        'Client._disconnected (checked per client in preConnect and on close)',
    });
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }

  // Every change to what a session keeps (subscriptions, queued messages, retained messages) saves the state.
  if (stateFile) {
    const persistence = internals.persistence as unknown as Record<string, unknown>;
    for (const name of [
      'addSubscriptions',
      'removeSubscriptions',
      'cleanSubscriptions',
      'outgoingEnqueue',
      'outgoingEnqueueCombi',
      'outgoingUpdate',
      'outgoingClearMessageId',
      'storeRetained',
    ]) {
      const original = persistence[name];
      if (typeof original !== 'function') continue;
      persistence[name] = (...args: unknown[]) => {
        const result = (original as (...a: unknown[]) => unknown).apply(internals.persistence, args);
        scheduleSave();
        return result;
      };
    }
  }

  // Track in-flight publishes (including the wills aedes publishes itself) so stop() can wait for
  // their onPublish callbacks.
  const originalPublish = internals.publish.bind(broker);
  internals.publish = (packet, clientOrDone, maybeDone) => {
    const client = typeof clientOrDone === 'function' ? null : clientOrDone;
    const done = typeof clientOrDone === 'function' ? clientOrDone : maybeDone;
    inflightPublishes++;
    originalPublish(packet, client ?? null, (error?: Error) => {
      inflightPublishes--;
      if (inflightPublishes === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const wake of waiters) wake();
      }
      done?.(error);
    });
  };

  // Takeover detection: runs before aedes closes the previous client with the same id.
  const originalRegisterClient = internals.registerClient.bind(broker);
  internals.registerClient = (client) => {
    const previous = liveByClientId.get(client.id);
    if (previous && previous !== client) {
      const session = sessions.get(previous);
      if (session) session.reason ??= 'DUPLICATE_CLIENTID';
      // aedes only closes the client it has in broker.clients; close ours too if they diverged.
      if (internals.clients[client.id] !== previous) previous.close();
    }
    originalRegisterClient(client);
  };

  function publishPresence(
    clientId: string,
    event: PresenceConnectedEvent | PresenceDisconnectedEvent,
  ): void {
    publishEvent(`${PRESENCE_TOPIC_PREFIX}${event.eventType}/${clientId}`, event);
  }

  /** Publishes a broker-originated lifecycle event (QoS 0, not retained), as AWS IoT does. */
  function publishEvent(topic: string, event: object): void {
    const packet = {
      cmd: 'publish',
      topic,
      payload: Buffer.from(JSON.stringify(event)),
      qos: 0,
      retain: false,
      dup: false,
    } as PublishPacket;
    internals.publish(packet, null, (error) => {
      if (error) reportError(`publishing ${packet.topic}`, error);
    });
  }

  function nextVersion(clientId: string, at: number): number {
    const record = records.get(clientId);
    if (!record) {
      records.set(clientId, { versionNumber: 0, liveSessions: 1, lastDisconnectedAt: at });
      return 0;
    }
    const expired = record.liveSessions === 0 && at - record.lastDisconnectedAt >= versionResetMs;
    record.versionNumber = expired ? 0 : record.versionNumber + 1;
    record.liveSessions++;
    return record.versionNumber;
  }

  function startSession(client: Client): void {
    // aedes can register a client whose socket died while it was authenticating; it never connected.
    if (client.closed || sessions.has(client) || !hasLifecycle(client.id)) return;
    const at = now();
    const session: Session = {
      clientId: client.id,
      sessionIdentifier: randomUUID(),
      principalIdentifier: principalFor(client.id),
      versionNumber: nextVersion(client.id, at),
      reason: null,
      ended: false,
    };
    sessions.set(client, session);
    liveByClientId.set(client.id, client);
    clearTimeout(expiryTimers.get(client.id));
    expiryTimers.delete(client.id);
    if (client.clean) persistentSessions.delete(client.id);
    else {
      persistentSessions.set(client.id, {
        expirySeconds: sessionExpiryOf.get(client.conn as Duplex) ?? MQTT311_PERSISTENT_SESSION_SECONDS,
        expiresAt: null,
      });
    }
    scheduleSave();
    publishPresence(client.id, {
      clientId: client.id,
      timestamp: at,
      eventType: 'connected',
      sessionIdentifier: session.sessionIdentifier,
      principalIdentifier: session.principalIdentifier,
      ipAddress: remoteAddressOf(client),
      versionNumber: session.versionNumber,
    });
    finished(client.conn, () => endSession(client));
  }

  function endSession(client: Client): void {
    const session = sessions.get(client);
    if (!session || session.ended) return;
    session.ended = true;
    sessions.delete(client);
    if (liveByClientId.get(session.clientId) === client) liveByClientId.delete(session.clientId);

    const at = now();
    const record = records.get(session.clientId);
    if (record) {
      record.liveSessions = Math.max(0, record.liveSessions - 1);
      record.lastDisconnectedAt = at;
    }

    const reason: DisconnectReason = (client as ClientInternals)._disconnected
      ? 'CLIENT_INITIATED_DISCONNECT'
      : (session.reason ?? 'CONNECTION_LOST');
    finalReasons.set(client, reason);
    // After the state was saved at stop, the next start ends this connection (see stop()).
    if (frozen) return;
    if (!client.clean) scheduleSessionExpiry(client);
    scheduleSave();
    publishPresence(session.clientId, {
      clientId: session.clientId,
      timestamp: at,
      eventType: 'disconnected',
      sessionIdentifier: session.sessionIdentifier,
      principalIdentifier: session.principalIdentifier,
      clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT',
      disconnectReason: reason,
      versionNumber: session.versionNumber,
    });
  }

  function markSession(client: Client | undefined, reason: DisconnectReason): void {
    const session = client ? sessions.get(client) : undefined;
    if (session) session.reason ??= reason;
  }

  function wipeSession(clientId: string): Promise<void> {
    if (!liveByClientId.has(clientId)) persistentSessions.delete(clientId);
    return internals.persistence.cleanSubscriptions({ id: clientId }).then(
      () => undefined,
      (error: unknown) => reportError(`discarding the session of ${clientId}`, error),
    );
  }

  /** A persistent session outlives its connection for its session expiry (at most 7 days), then goes. */
  function scheduleSessionExpiry(client: Client): void {
    const seconds = Math.min(
      sessionExpiryOf.get(client.conn as Duplex) ?? MQTT311_PERSISTENT_SESSION_SECONDS,
      MAX_SESSION_EXPIRY_SECONDS,
    );
    expireSessionAt(client.id, seconds, now() + seconds * 1_000);
  }

  function expireSessionAt(clientId: string, expirySeconds: number, expiresAt: number): void {
    clearTimeout(expiryTimers.get(clientId));
    expiryTimers.delete(clientId);
    if (liveByClientId.has(clientId)) return;
    if (expirySeconds === 0 || expiresAt <= now()) {
      void wipeSession(clientId);
      return;
    }
    persistentSessions.set(clientId, { expirySeconds, expiresAt });
    const timer = setTimeout(() => {
      expiryTimers.delete(clientId);
      if (!liveByClientId.has(clientId)) void wipeSession(clientId).then(scheduleSave);
    }, expiresAt - now());
    timer.unref();
    expiryTimers.set(clientId, timer);
  }

  // --- What is kept across runs (options.stateFile) ---

  let saveTimer: NodeJS.Timeout | undefined;
  let saving: Promise<void> = Promise.resolve();

  function scheduleSave(): void {
    if (!stateFile || frozen || saveTimer) return;
    saveTimer = setTimeout(() => {
      saveTimer = undefined;
      saving = saving.then(saveNow);
    }, 20);
  }

  async function saveNow(): Promise<void> {
    if (!stateFile) return;
    try {
      saveBrokerState(stateFile, await snapshot());
    } catch (error) {
      reportError(`saving ${stateFile}`, error);
    }
  }

  async function snapshot(): Promise<BrokerState> {
    const at = now();
    const state = emptyBrokerState();
    state.savedAt = at;
    for (const [clientId, record] of records) {
      // A record AWS would have forgotten (its next connection restarts at 0) is not kept.
      if (record.liveSessions === 0 && at - record.lastDisconnectedAt >= versionResetMs) continue;
      state.clientIds[clientId] = {
        versionNumber: record.versionNumber,
        lastDisconnectedAt: record.lastDisconnectedAt,
      };
    }
    for (const [client, session] of sessions) {
      if (session.ended) continue;
      const will = (client as Client & { will?: PublishPacket | null }).will;
      state.live.push({
        clientId: session.clientId,
        sessionIdentifier: session.sessionIdentifier,
        principalIdentifier: session.principalIdentifier,
        versionNumber: session.versionNumber,
        ...(will ? { will: storePacket(will) } : {}),
      });
    }
    const persistence = internals.persistence as unknown as {
      subscriptionsByClient(client: { id: string }): Promise<StoredSession['subscriptions']>;
      outgoingStream(client: { id: string }): AsyncIterable<PublishPacket>;
      createRetainedStream(pattern: string): AsyncIterable<PublishPacket>;
    };
    for (const [clientId, kept] of persistentSessions) {
      const queued = [];
      for await (const packet of persistence.outgoingStream({ id: clientId }))
        queued.push(storePacket(packet));
      state.sessions[clientId] = {
        ...kept,
        subscriptions: await persistence.subscriptionsByClient({ id: clientId }),
        queued,
      };
    }
    for await (const packet of persistence.createRetainedStream('#'))
      state.retained.push(storePacket(packet));
    return state;
  }

  /**
   * Takes back what an earlier run kept, before anyone can connect: version numbers, sessions, retained messages;
   * then ends each connection that run left live as AWS ends one whose server went away, now: its will and a
   * disconnected event with SERVER_INITIATED_DISCONNECT. Returns how many connections were ended.
   */
  async function restore(file: string): Promise<number> {
    let state: BrokerState;
    try {
      state = loadBrokerState(file);
    } catch (error) {
      if (!(error instanceof BrokerStateUnreadableError)) throw error;
      reportError('starting without the kept MQTT state', error);
      return 0;
    }
    const at = now();
    for (const [clientId, kept] of Object.entries(state.clientIds)) {
      records.set(clientId, { ...kept, liveSessions: 0 });
    }
    const persistence = internals.persistence as unknown as {
      addSubscriptions(client: { id: string }, subs: StoredSession['subscriptions']): Promise<unknown>;
      outgoingEnqueue(sub: { clientId: string }, packet: PublishPacket): Promise<void>;
      storeRetained(packet: PublishPacket): Promise<void>;
    };
    const cut = new Set(state.live.map((connection) => connection.clientId));
    for (const [clientId, kept] of Object.entries(state.sessions)) {
      // A session whose connection was cut expires from now, when this broker ends that connection.
      const expiresAt = kept.expiresAt ?? (cut.has(clientId) ? at + kept.expirySeconds * 1_000 : at);
      if (expiresAt <= at || kept.expirySeconds === 0) continue;
      if (kept.subscriptions.length > 0)
        await persistence.addSubscriptions({ id: clientId }, kept.subscriptions);
      for (const packet of kept.queued) {
        await persistence.outgoingEnqueue({ clientId }, restorePacket(packet) as PublishPacket);
      }
      expireSessionAt(clientId, kept.expirySeconds, expiresAt);
    }
    for (const packet of state.retained) {
      await persistence.storeRetained(restorePacket(packet) as PublishPacket);
    }
    for (const connection of state.live) endCutConnection(connection, at);
    await waitForIdlePublishes();
    await saveNow();
    return state.live.length;
  }

  function endCutConnection(connection: StoredConnection, at: number): void {
    const record = records.get(connection.clientId);
    if (record) record.lastDisconnectedAt = at;
    else {
      records.set(connection.clientId, {
        versionNumber: connection.versionNumber,
        liveSessions: 0,
        lastDisconnectedAt: at,
      });
    }
    if (connection.will) {
      // Published as aedes publishes a will: by (a stand-in of) the client that set it.
      const owner = { id: connection.clientId } as Client;
      internals.publish(restorePacket(connection.will) as PublishPacket, owner, (error) => {
        if (error) reportError(`publishing the will of ${connection.clientId}`, error);
      });
    }
    publishPresence(connection.clientId, {
      clientId: connection.clientId,
      timestamp: at,
      eventType: 'disconnected',
      sessionIdentifier: connection.sessionIdentifier,
      principalIdentifier: connection.principalIdentifier,
      clientInitiatedDisconnect: false,
      disconnectReason: 'SERVER_INITIATED_DISCONNECT',
      versionNumber: connection.versionNumber,
    });
  }

  function clientOf(connection: Duplex): Client | undefined {
    return (connection as Duplex & { client?: Client }).client;
  }

  const bridgeHooks: Mqtt5BridgeHooks = {
    serverDisconnectReason(connection) {
      const client = clientOf(connection);
      if (!client) return null;
      const live = (client as ClientInternals)._disconnected
        ? 'CLIENT_INITIATED_DISCONNECT'
        : (sessions.get(client)?.reason ?? null);
      const reason = finalReasons.get(client) ?? live;
      return reason ? MQTT5_DISCONNECT_REASON[reason] : null;
    },
    clientDisconnectWithWill(connection) {
      markSession(clientOf(connection), 'CLIENT_INITIATED_DISCONNECT');
    },
    clientProtocolError(connection) {
      markSession(clientOf(connection), 'CLIENT_ERROR');
    },
    sessionExpiryChanged(connection, seconds) {
      sessionExpiryOf.set(connection, Math.min(seconds, MAX_SESSION_EXPIRY_SECONDS));
    },
  };

  function publishSubscriptionEvent(
    client: Client,
    eventType: SubscriptionEvent['eventType'],
    topics: string[],
  ): void {
    const session = sessions.get(client);
    // aedes also unsubscribes a closing client from everything: AWS publishes no event for that.
    if (!session || client.closed || topics.length === 0) return;
    const event: SubscriptionEvent = {
      clientId: session.clientId,
      timestamp: now(),
      eventType,
      sessionIdentifier: session.sessionIdentifier,
      principalIdentifier: session.principalIdentifier,
      topics,
    };
    publishEvent(`${SUBSCRIPTIONS_TOPIC_PREFIX}${eventType}/${session.clientId}`, event);
  }

  broker.on('client', startSession);
  broker.on('subscribe', (subscriptions: Subscription[], client: Client) => {
    // A refused topic filter (SUBACK 0x80) is not a subscription.
    const granted = subscriptions.filter((subscription) => (subscription.qos as number) !== 128);
    publishSubscriptionEvent(
      client,
      'subscribed',
      granted.map((subscription) => subscription.topic),
    );
  });
  broker.on('unsubscribe', (topics: string[], client: Client) => {
    publishSubscriptionEvent(client, 'unsubscribed', topics);
  });
  broker.on('clientDisconnect', endSession);
  broker.on('keepaliveTimeout', (client) => markSession(client, 'MQTT_KEEP_ALIVE_TIMEOUT'));
  broker.on('clientError', (client, error) => {
    markSession(client, isTransportError(error) ? 'CONNECTION_LOST' : 'CLIENT_ERROR');
  });
  // Without a listener aedes' 'error' events (e.g. persistence failures) would crash the process.
  (broker as EventEmitter).on('error', (error: Error) => reportError('broker error', error));
  broker.on('publish', (packet: AedesPublishPacket, client: Client | null) => {
    if (!onPublish || packet.topic.startsWith('$SYS/')) return;
    const payload = packet.payload;
    const message: BrokerPublish = {
      topic: packet.topic,
      payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload ?? ''),
      clientId: client?.id ?? null,
      receivedAt: now(),
    };
    try {
      const result: unknown = onPublish(message);
      if (result instanceof Promise) result.catch((error: unknown) => reportError('onPublish', error));
    } catch (error) {
      reportError('onPublish', error);
    }
  });

  const endedAtStart = stateFile ? await restore(stateFile) : 0;

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    acceptMqttConnection(socket, {
      mqtt311: (connection) => broker.handle(connection),
      mqtt5: (connection, connect, parser) => {
        const { wipeExistingSession } = toMqtt311Clean(connect);
        const bridged = bridgeMqtt5(connection, connect, parser, bridgeHooks, () =>
          wipeExistingSession ? wipeSession(connect.clientId) : Promise.resolve(),
        );
        sessionExpiryOf.set(bridged, grantedSessionExpiry(connect));
        bridgeOf.set(connection, bridged);
        broker.handle(bridged);
      },
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }

  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('unexpected server address');
  const port = address.port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  /** Closes every live session (reason SERVER_INITIATED_DISCONNECT) and cuts connections without one. */
  function closeAllConnections(): Promise<void> {
    const closing: Array<Promise<void>> = [];
    for (const [client, session] of sessions) {
      session.reason ??= 'SERVER_INITIATED_DISCONNECT';
      closing.push(new Promise<void>((resolve) => client.close(() => resolve())));
    }
    for (const socket of sockets) {
      const bridged = bridgeOf.get(socket);
      const client = bridged ? clientOf(bridged) : (socket as Socket & { client?: Client }).client;
      if (!client || !sessions.has(client)) socket.destroy();
    }
    return Promise.all(closing).then(() => undefined);
  }

  function dropAllClients(): void {
    void closeAllConnections();
  }

  function waitForIdlePublishes(): Promise<void> {
    if (inflightPublishes === 0) return Promise.resolve();
    return new Promise((resolve) => idleWaiters.push(resolve));
  }

  let stopping: Promise<void> | null = null;
  function stop(): Promise<void> {
    stopping ??= (async () => {
      const serverClosed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      if (stateFile) {
        // The live connections are saved as such; the next start ends them (wills, disconnected events).
        clearTimeout(saveTimer);
        saveTimer = undefined;
        await saving;
        await saveNow();
        frozen = true;
        for (const client of sessions.keys()) (client as Client & { will?: unknown }).will = null;
      }
      await closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await serverClosed;
      // Socket 'close' handlers end the remaining sessions; let them run, then flush their publishes.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await waitForIdlePublishes();
      for (const timer of expiryTimers.values()) clearTimeout(timer);
      expiryTimers.clear();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    })();
    return stopping;
  }

  return {
    port,
    url: `mqtt://${urlHost}:${port}`,
    stop,
    dropAllClients,
    connectedClientIds: () => [...liveByClientId.keys()],
    endedAtStart,
  };
}
