/**
 * What the local broker keeps in the data folder between runs, as AWS IoT Core keeps it across its own restarts:
 * each client id's versionNumber (and when it last disconnected, for the reset after about an hour offline), the
 * persistent sessions (subscriptions, queued QoS 1 messages, their expiry), the retained messages, and the
 * connections that were live when the state was saved: the next start ends those as AWS ends a connection whose
 * server went away.
 *
 * One JSON file, rewritten whole (write to a temporary file, then rename) a few milliseconds after each change, so a
 * SIGKILL leaves the last complete state.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const BROKER_STATE_FILE = 'mqtt-broker-state.json';
const FORMAT = 1;

/** A publish packet as stored: its payload in base64. */
export interface StoredPacket {
  topic: string;
  payload: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  brokerId?: string;
  brokerCounter?: number;
}

interface StoredClientId {
  versionNumber: number;
  lastDisconnectedAt: number;
}

/** A connection that was live when the state was saved. */
export interface StoredConnection {
  clientId: string;
  sessionIdentifier: string;
  principalIdentifier: string;
  versionNumber: number;
  will?: StoredPacket;
}

export interface StoredSession {
  /** The session expiry granted (seconds). */
  expirySeconds: number;
  /** When it expires; null while its connection is live (the expiry counts from the disconnection). */
  expiresAt: number | null;
  subscriptions: Array<{ topic: string; qos: number; [option: string]: unknown }>;
  queued: StoredPacket[];
}

export interface BrokerState {
  format: typeof FORMAT;
  savedAt: number;
  clientIds: Record<string, StoredClientId>;
  live: StoredConnection[];
  sessions: Record<string, StoredSession>;
  retained: StoredPacket[];
}

export function emptyBrokerState(): BrokerState {
  return { format: FORMAT, savedAt: 0, clientIds: {}, live: [], sessions: {}, retained: [] };
}

interface PacketLike {
  topic: string;
  payload?: Buffer | string | Uint8Array | null;
  qos?: number;
  retain?: boolean;
  brokerId?: string;
  brokerCounter?: number;
}

export function storePacket(packet: PacketLike): StoredPacket {
  const payload = packet.payload ?? Buffer.alloc(0);
  return {
    topic: packet.topic,
    payload: Buffer.from(payload as Uint8Array).toString('base64'),
    qos: (packet.qos ?? 0) as 0 | 1 | 2,
    retain: packet.retain ?? false,
    ...(packet.brokerId ? { brokerId: packet.brokerId } : {}),
    ...(packet.brokerCounter !== undefined ? { brokerCounter: packet.brokerCounter } : {}),
  };
}

export function restorePacket(stored: StoredPacket) {
  return {
    cmd: 'publish' as const,
    topic: stored.topic,
    payload: Buffer.from(stored.payload, 'base64'),
    qos: stored.qos,
    retain: stored.retain,
    dup: false,
    ...(stored.brokerId ? { brokerId: stored.brokerId } : {}),
    ...(stored.brokerCounter !== undefined ? { brokerCounter: stored.brokerCounter } : {}),
  };
}

export class BrokerStateUnreadableError extends Error {
  override name = 'BrokerStateUnreadableError';
}

/** The state saved in `file`, or an empty one when there is none. */
export function loadBrokerState(file: string): BrokerState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyBrokerState();
    throw error;
  }
  let parsed: Partial<BrokerState>;
  try {
    parsed = JSON.parse(text) as Partial<BrokerState>;
  } catch (error) {
    throw new BrokerStateUnreadableError(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (parsed.format !== FORMAT) {
    throw new BrokerStateUnreadableError(`${file} has format ${String(parsed.format)}, expected ${FORMAT}`);
  }
  return { ...emptyBrokerState(), ...parsed } as BrokerState;
}

/** Writes the whole state: a temporary file renamed over the old one, so a crash leaves one or the other. */
export function saveBrokerState(file: string, state: BrokerState): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(state));
  renameSync(temporary, file);
}
