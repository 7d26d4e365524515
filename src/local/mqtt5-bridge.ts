/**
 * Speaks MQTT 5 to a client and MQTT 3.1.1 to aedes (which speaks only 3.1.1), packet by packet.
 *
 * Client to broker: CONNECT (clean start and session expiry become a 3.1.1 clean session, see
 * {@link toMqtt311Clean}), PUBLISH (topic aliases resolved), the QoS acknowledgements, SUBSCRIBE,
 * UNSUBSCRIBE, PINGREQ, and DISCONNECT: with reason code 0x00 it is a graceful 3.1.1 DISCONNECT (no
 * will); with any other reason code the connection is closed without one, so the will is published
 * (MQTT 5, 3.14.4) and the hooks record a client-initiated disconnect. AUTH and a second CONNECT are
 * protocol errors.
 *
 * Broker to client: CONNACK return codes become MQTT 5 reason codes, SUBACK and UNSUBACK carry one
 * reason code per topic filter, and when the broker closes the connection for a reason the hooks name
 * (session taken over, keep-alive timeout, ...), the client gets a DISCONNECT with that reason code
 * before the socket is closed.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import mqttPacket, { type IConnectPacket, type IPublishPacket, type Packet, type Parser } from 'mqtt-packet';

/** AWS IoT Core keeps a persistent session at most 7 days (Session Expiry Interval). */

/** A PUBLISH as the other side gets it: the same message without MQTT 5 properties (a topic alias resolved). */
function plainPublish(packet: IPublishPacket, topic: string): IPublishPacket {
  return {
    cmd: 'publish',
    topic,
    payload: packet.payload,
    qos: packet.qos,
    retain: packet.retain,
    dup: packet.dup,
    ...(packet.qos > 0 ? { messageId: packet.messageId } : {}),
  };
}

export const MAX_SESSION_EXPIRY_SECONDS = 604_800;

/** MQTT 5 reason codes used here. */
export const ReasonCode = {
  success: 0x00,
  disconnectWithWill: 0x04,
  unspecifiedError: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  unsupportedProtocolVersion: 0x84,
  clientIdentifierNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverShuttingDown: 0x8b,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
} as const;

/** CONNACK return code (MQTT 3.1.1) to CONNACK reason code (MQTT 5). */
const CONNACK_REASON: Record<number, number> = {
  0: ReasonCode.success,
  1: ReasonCode.unsupportedProtocolVersion,
  2: ReasonCode.clientIdentifierNotValid,
  3: ReasonCode.serverUnavailable,
  4: ReasonCode.badUserNameOrPassword,
  5: ReasonCode.notAuthorized,
};

export interface Mqtt5BridgeHooks {
  /**
   * Called when the broker closes the connection: the MQTT 5 reason code of the DISCONNECT to send
   * first, or null to send none (the client asked to leave, or the connection was lost).
   */
  serverDisconnectReason(connection: Duplex): number | null;
  /** The client sent DISCONNECT with a reason code other than 0x00: it leaves, and its will is published. */
  clientDisconnectWithWill(connection: Duplex, reasonCode: number): void;
  /** The client broke the protocol (malformed packet, AUTH, a second CONNECT). */
  clientProtocolError(connection: Duplex): void;
  /** The client changed its session expiry in its DISCONNECT. */
  sessionExpiryChanged(connection: Duplex, seconds: number): void;
}

/** What a 3.1.1 broker can express of MQTT 5's clean start and session expiry. */
export function toMqtt311Clean(connect: IConnectPacket): { clean: boolean; wipeExistingSession: boolean } {
  const expiry = connect.properties?.sessionExpiryInterval ?? 0;
  const cleanStart = connect.clean !== false;
  // A session that starts clean and ends with the connection is exactly a 3.1.1 clean session. Any
  // other combination keeps the session after the connection (the session expiry is enforced by the
  // broker); clean start with a session expiry first discards the session the client id had.
  if (cleanStart && expiry === 0) return { clean: true, wipeExistingSession: false };
  return { clean: false, wipeExistingSession: cleanStart };
}

/** The Session Expiry Interval granted: AWS caps it at 7 days (and says so in CONNACK). */
export function grantedSessionExpiry(connect: IConnectPacket): number {
  return Math.min(connect.properties?.sessionExpiryInterval ?? 0, MAX_SESSION_EXPIRY_SECONDS);
}

function toMqtt311Connect(connect: IConnectPacket): IConnectPacket {
  const { will } = connect;
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: toMqtt311Clean(connect).clean,
    clientId: connect.clientId,
    keepalive: connect.keepalive,
    ...(connect.username === undefined ? {} : { username: connect.username }),
    ...(connect.password === undefined ? {} : { password: connect.password }),
    ...(will
      ? {
          will: {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos ?? 0,
            retain: will.retain ?? false,
          },
        }
      : {}),
  };
}

/**
 * Starts bridging an MQTT 5 connection whose CONNECT was read; returns the connection to hand to aedes.
 * `beforeConnect` runs before aedes sees the CONNECT (to discard an existing session on clean start).
 */
export function bridgeMqtt5(
  socket: Socket,
  connect: IConnectPacket,
  clientParser: Parser,
  hooks: Mqtt5BridgeHooks,
  beforeConnect: () => Promise<void>,
): Duplex {
  const toClient = (packet: Packet) => {
    if (!socket.destroyed) socket.write(mqttPacket.generate(packet, { protocolVersion: 5 }));
  };
  const brokerParser = mqttPacket.parser({ protocolVersion: 4 });
  const topicAliases = new Map<number, string>();
  const unsubscribeCounts = new Map<number, number>();
  let connackSucceeded = false;
  let connectSent = false;
  const pendingForBroker: Buffer[] = [];

  const connection = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      brokerParser.parse(chunk);
      callback();
    },
    final(callback) {
      callback();
    },
    destroy(error, callback) {
      closeSocket();
      callback(error);
    },
  });
  (connection as Duplex & { remoteAddress?: string }).remoteAddress = socket.remoteAddress;

  function toBroker(packet: Packet): void {
    const bytes = mqttPacket.generate(packet, { protocolVersion: 4 });
    if (connectSent) connection.push(bytes);
    else pendingForBroker.push(bytes);
  }

  function closeSocket(): void {
    if (socket.destroyed) return;
    const reason = connackSucceeded ? hooks.serverDisconnectReason(connection) : null;
    if (reason !== null) {
      socket.end(mqttPacket.generate({ cmd: 'disconnect', reasonCode: reason }, { protocolVersion: 5 }));
    } else {
      socket.end();
    }
  }

  function protocolError(): void {
    hooks.clientProtocolError(connection);
    connection.destroy();
  }

  brokerParser.on('packet', (packet: Packet) => {
    switch (packet.cmd) {
      case 'connack': {
        const reasonCode = CONNACK_REASON[packet.returnCode ?? 0] ?? ReasonCode.unspecifiedError;
        connackSucceeded = reasonCode === ReasonCode.success;
        const properties: Record<string, unknown> = {};
        const requested = connect.properties?.sessionExpiryInterval ?? 0;
        if (connackSucceeded && requested > MAX_SESSION_EXPIRY_SECONDS) {
          properties.sessionExpiryInterval = MAX_SESSION_EXPIRY_SECONDS;
        }
        const assignedId = (connection as Duplex & { client?: { id?: string } }).client?.id;
        if (connackSucceeded && connect.clientId === '' && assignedId) {
          properties.assignedClientIdentifier = assignedId;
        }
        toClient({
          cmd: 'connack',
          sessionPresent: packet.sessionPresent,
          reasonCode,
          ...(Object.keys(properties).length > 0 ? { properties } : {}),
        });
        return;
      }
      case 'publish':
        toClient(plainPublish(packet, packet.topic));
        return;
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        toClient({ cmd: packet.cmd, messageId: packet.messageId, reasonCode: ReasonCode.success });
        return;
      case 'suback':
        toClient({ cmd: 'suback', messageId: packet.messageId, granted: packet.granted });
        return;
      case 'unsuback': {
        const count = unsubscribeCounts.get(packet.messageId ?? 0) ?? 1;
        unsubscribeCounts.delete(packet.messageId ?? 0);
        toClient({
          cmd: 'unsuback',
          messageId: packet.messageId,
          granted: new Array<number>(count).fill(ReasonCode.success),
        });
        return;
      }
      case 'pingresp':
        toClient({ cmd: 'pingresp' });
        return;
      default:
        return;
    }
  });
  brokerParser.on('error', () => connection.destroy());

  clientParser.removeAllListeners();
  clientParser.on('packet', (packet: Packet) => {
    switch (packet.cmd) {
      case 'publish': {
        let topic = packet.topic;
        const alias = packet.properties?.topicAlias;
        if (alias !== undefined) {
          if (topic) topicAliases.set(alias, topic);
          else topic = topicAliases.get(alias) ?? '';
        }
        if (!topic) {
          protocolError();
          return;
        }
        toBroker(plainPublish(packet, topic));
        return;
      }
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        toBroker({ cmd: packet.cmd, messageId: packet.messageId });
        return;
      case 'subscribe':
        toBroker({
          cmd: 'subscribe',
          messageId: packet.messageId,
          subscriptions: packet.subscriptions.map(({ topic, qos }) => ({ topic, qos })),
        });
        return;
      case 'unsubscribe':
        unsubscribeCounts.set(packet.messageId ?? 0, packet.unsubscriptions.length);
        toBroker({
          cmd: 'unsubscribe',
          messageId: packet.messageId,
          unsubscriptions: packet.unsubscriptions,
        });
        return;
      case 'pingreq':
        toBroker({ cmd: 'pingreq' });
        return;
      case 'disconnect': {
        const expiry = packet.properties?.sessionExpiryInterval;
        if (expiry !== undefined) hooks.sessionExpiryChanged(connection, expiry);
        const reasonCode = packet.reasonCode ?? ReasonCode.success;
        if (reasonCode === ReasonCode.success) {
          toBroker({ cmd: 'disconnect' });
        } else {
          hooks.clientDisconnectWithWill(connection, reasonCode);
          connection.destroy();
        }
        return;
      }
      default:
        // AUTH (no enhanced authentication here) or a second CONNECT.
        protocolError();
        return;
    }
  });
  clientParser.on('error', () => protocolError());

  socket.on('data', (chunk: Buffer) => clientParser.parse(chunk));
  socket.once('close', () => connection.destroy());
  socket.resume();

  // The CONNECT goes first; packets the client sent right behind it wait for it.
  beforeConnect()
    .catch(() => undefined)
    .then(() => {
      connection.push(mqttPacket.generate(toMqtt311Connect(connect), { protocolVersion: 4 }));
      connectSent = true;
      for (const bytes of pendingForBroker.splice(0)) connection.push(bytes);
    });

  return connection;
}
