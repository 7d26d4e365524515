/**
 * The first bytes of every connection to the local IoT Core broker: reads the CONNECT packet, refuses
 * MQTT 3.1 (protocol level 3) as AWS IoT Core does, and hands MQTT 3.1.1 and MQTT 5 connections on.
 *
 * AWS IoT Core speaks MQTT 3.1.1 and MQTT 5 only. The MQTT 3.1.1 specification (3.1.2.2) tells a
 * server that does not support a client's protocol level to answer CONNACK 0x01 (unacceptable protocol
 * version) and close the connection; no session starts, so no lifecycle event is published.
 */
import type { Socket } from 'node:net';
import mqttPacket, { type IConnectPacket, type Packet, type Parser } from 'mqtt-packet';

/** How long a socket may stay open without sending its CONNECT (aedes' own default is 30 s too). */
const CONNECT_TIMEOUT_MS = 30_000;

export interface MqttFrontHandlers {
  /** An MQTT 3.1.1 connection: the socket, with everything read so far put back, ready for the broker. */
  mqtt311(socket: Socket): void;
  /**
   * An MQTT 5 connection: its CONNECT, and the parser that read it (already set to MQTT 5), which goes on
   * to parse the packets that follow.
   */
  mqtt5(socket: Socket, connect: IConnectPacket, parser: Parser): void;
}

/** The rest of a chunk may still be parsed after the CONNECT: ignore it, errors included. */
function stopParsing(parser: Parser): void {
  parser.removeAllListeners();
  parser.on('error', () => {});
}

/** Reads the CONNECT of a new connection and routes the connection by its protocol level. */
export function acceptMqttConnection(
  socket: Socket,
  handlers: MqttFrontHandlers,
  connectTimeoutMs = CONNECT_TIMEOUT_MS,
): void {
  const parser = mqttPacket.parser();
  const received: Buffer[] = [];
  let decided = false;

  const timer = setTimeout(() => socket.destroy(), connectTimeoutMs);
  timer.unref();

  function onData(chunk: Buffer): void {
    received.push(chunk);
    parser.parse(chunk);
  }

  function decide(): void {
    decided = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
    socket.pause();
  }

  function onClose(): void {
    clearTimeout(timer);
  }

  parser.once('packet', (packet: Packet) => {
    decide();
    if (packet.cmd !== 'connect') {
      // [MQTT-3.1.0-1]: the first packet of a connection must be CONNECT.
      socket.destroy();
      return;
    }
    switch (packet.protocolVersion) {
      case 4:
        stopParsing(parser);
        socket.unshift(Buffer.concat(received));
        handlers.mqtt311(socket);
        return;
      case 5:
        handlers.mqtt5(socket, packet, parser);
        return;
      default:
        stopParsing(parser);
        socket.end(mqttPacket.generate({ cmd: 'connack', returnCode: 1, sessionPresent: false }));
        return;
    }
  });
  parser.on('error', () => {
    if (decided) return;
    decide();
    socket.destroy();
  });
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.on('error', () => socket.destroy());
}
