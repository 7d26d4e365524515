/**
 * The stored form of a device's facts, alert cursor, outbox and next check, with its schema version. The device
 * item is rewritten on most events and DynamoDB bills each started KB, so the stored form uses short keys and is
 * compressed (DynamoDB's own advice for large attributes): JSON, deflated against a preset dictionary of the
 * record's keys and words, in a binary attribute whose first byte names the format. Records stored as JSON text
 * (before compression) read as they are. It is read back through a schema, and a record this code does not
 * understand is reported with its key and reason instead of being trusted.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ConnectionFacts } from '../../domain/connection.js';
import { DISCONNECT_REASONS, LAST_WILL_REASON } from '../../domain/device-events.js';
import type { DeviceFacts, WillFacts } from '../../domain/device-facts.js';
import type { EpisodeMark } from '../../domain/episodes.js';
import { StoredRecordError } from '../../domain/errors.js';
import type { AlertCursor } from '../../domain/evaluate.js';
import type { OutboxEntry } from '../../domain/ports.js';
import type { UptimeCursor, UptimeDay } from '../../domain/uptime.js';
import * as z from '../../shared/zod.js';
import { parseStoredJson, readStored } from '../stored-records.js';

const DEVICE_RECORD_SCHEMA_VERSION = 7;
/**
 * Versions 4 (episode marks and cursor, connection identities), 5 (the cursor's uptime), 6 (the checks still to
 * come) and 7 (a mark's connection version, `v`) only added optional fields: 3 to 6 read as they are.
 */
const READABLE_SCHEMA_VERSIONS = [3, 4, 5, 6, DEVICE_RECORD_SCHEMA_VERSION] as const;

const epochMs = z.number();

/**
 * s: sessionIdentifier, v: versionNumber, b: a birth, t0/s0: started at / first seen, t1/s1: ended at / first seen,
 * r: reason, p/ip: principal and address of who held it.
 */
const storedConnection = z.object({
  s: z.string(),
  v: z.optional(z.number()),
  b: z.optional(z.literal(1)),
  t0: z.optional(epochMs),
  s0: z.optional(epochMs),
  t1: z.optional(epochMs),
  s1: z.optional(epochMs),
  r: z.optional(z.enum(DISCONNECT_REASONS)),
  p: z.optional(z.string()),
  ip: z.optional(z.string()),
});

/**
 * t: AWS's timestamp of the end, at: first seen, r: reason, g: time away (flapping), p/ip: principals and
 * addresses (clientid-conflict).
 */
const storedMark = z.object({
  t: epochMs,
  v: z.optional(z.number()),
  at: epochMs,
  r: z.enum(DISCONNECT_REASONS),
  g: z.optional(z.number()),
  p: z.optional(z.array(z.string())),
  ip: z.optional(z.array(z.string())),
});

const episodeKinds = <T extends z.core.SomeType>(value: T) =>
  z.object({ 'clientid-conflict': z.optional(value), flapping: z.optional(value) });

/** id: eventId, at: receivedAt, p: payload. */
const storedWill = z.object({ id: z.string(), at: epochMs, p: z.unknown() });

const storedCursor = z.object({
  at: z.object({ sessionIdentifier: z.string(), versionNumber: z.optional(z.number()) }),
  atTime: epochMs,
  through: z.enum(['start', 'end']),
  outageSince: z.optional(epochMs),
  ahead: z.optional(z.array(z.string())),
  episodes: z.optional(episodeKinds(epochMs)),
});

/**
 * d: date, c0/c1: connected at its start / end (1 or 0), cm/dm: connected / disconnected ms, o: outages,
 * lo: longest outage ms; zeros are left out.
 */
const storedUptimeDay = z.object({
  d: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/)),
  c0: z.optional(z.literal([0, 1])),
  c1: z.optional(z.literal([0, 1])),
  cm: z.optional(z.number().check(z.gte(0))),
  dm: z.optional(z.number().check(z.gte(0))),
  o: z.optional(z.int().check(z.gte(0))),
  lo: z.optional(z.number().check(z.gte(0))),
});

/** The cursor's uptime: at, c: connected since then (1 or 0), d: the open day, u: finished days not yet saved. */
const storedUptime = z.object({
  at: epochMs,
  c: z.literal([0, 1]),
  d: storedUptimeDay,
  u: z.optional(z.array(storedUptimeDay)),
});

/** An alert as the outbox and the alert ledger store it. */
export const storedAlertSchema = z.object({
  alertId: z.string(),
  type: z.enum(['offline', 'online', 'clientid-conflict', 'flapping']),
  deviceId: z.string(),
  sessionIdentifier: z.string(),
  versionNumber: z.optional(z.number()),
  disconnectReason: z.optional(z.enum([...DISCONNECT_REASONS, LAST_WILL_REASON])),
  abrupt: z.optional(z.boolean()),
  lastWill: z.optional(z.unknown()),
  lastWillAt: z.optional(epochMs),
  since: epochMs,
  earliestAt: epochMs,
  outageMs: z.optional(z.number()),
  count: z.optional(z.number()),
  windowMs: z.optional(z.number()),
  principals: z.optional(z.array(z.string())),
  ipAddresses: z.optional(z.array(z.string())),
  medianGapMs: z.optional(z.number()),
  reasons: z.optional(z.partialRecord(z.enum(DISCONNECT_REASONS), z.number())),
  decidedAt: epochMs,
});

const storedRecord = z.object({
  schemaVersion: z.union(READABLE_SCHEMA_VERSIONS.map((version) => z.literal(version))),
  presence: z.boolean(),
  connections: z.array(storedConnection),
  wills: z.array(storedWill),
  marks: z.optional(episodeKinds(z.array(storedMark))),
  /** Latest receive times: any event, a connect or birth, a disconnect, a will. */
  last: z.object({
    event: z.optional(epochMs),
    connected: z.optional(epochMs),
    disconnected: z.optional(epochMs),
    will: z.optional(epochMs),
  }),
  cursor: z.optional(storedCursor),
  uptime: z.optional(storedUptime),
  recheckAt: z.optional(epochMs),
  /** When the checks asked for and still to come arrive. */
  checks: z.optional(z.array(epochMs)),
  outbox: z.array(z.object({ alert: storedAlertSchema, retryAt: epochMs })),
});

type StoredRecord = z.infer<typeof storedRecord>;

export interface DeviceRecord {
  facts: DeviceFacts;
  cursor?: AlertCursor;
  recheckAt?: number;
  pendingChecks?: number[];
  outbox: OutboxEntry[];
}

const defined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

function toStoredConnection(c: ConnectionFacts): StoredRecord['connections'][number] {
  return defined({
    s: c.sessionIdentifier,
    v: c.versionNumber,
    b: c.source === 'birth' ? (1 as const) : undefined,
    t0: c.startedAt,
    s0: c.startSeenAt,
    t1: c.endedAt,
    s1: c.endSeenAt,
    r: c.endReason,
    p: c.principalIdentifier,
    ip: c.ipAddress,
  });
}

function fromStoredConnection(c: StoredRecord['connections'][number]): ConnectionFacts {
  return defined({
    sessionIdentifier: c.s,
    versionNumber: c.v,
    source: c.b === 1 ? ('birth' as const) : ('presence' as const),
    startedAt: c.t0,
    startSeenAt: c.s0,
    endedAt: c.t1,
    endSeenAt: c.s1,
    endReason: c.r,
    principalIdentifier: c.p,
    ipAddress: c.ip,
  });
}

type StoredMark = z.infer<typeof storedMark>;
type Marks = NonNullable<DeviceFacts['marks']>;

function mapMarks<A, B>(marks: Partial<Record<keyof Marks, A[]>> | undefined, to: (mark: A) => B) {
  if (!marks) return undefined;
  return defined({
    'clientid-conflict': marks['clientid-conflict']?.map(to),
    flapping: marks.flapping?.map(to),
  });
}

const toStoredMark = (m: EpisodeMark): StoredMark =>
  defined({
    t: m.endedAt,
    v: m.version,
    at: m.at,
    r: m.reason,
    g: m.gapMs,
    p: m.principals,
    ip: m.ipAddresses,
  });
const fromStoredMark = (m: StoredMark): EpisodeMark =>
  defined({
    endedAt: m.t,
    version: m.v,
    at: m.at,
    reason: m.r,
    gapMs: m.g,
    principals: m.p,
    ipAddresses: m.ip,
  });

type StoredUptimeDay = z.infer<typeof storedUptimeDay>;
const bit = (flag: boolean | undefined) =>
  flag === undefined ? undefined : flag ? (1 as const) : (0 as const);
const flag = (bit: 0 | 1 | undefined) => (bit === undefined ? undefined : bit === 1);
const nonZero = (n: number) => (n === 0 ? undefined : n);

const toStoredDay = (day: UptimeDay): StoredUptimeDay =>
  defined({
    d: day.date,
    c0: bit(day.startedConnected),
    c1: bit(day.endedConnected),
    cm: nonZero(day.connectedMs),
    dm: nonZero(day.disconnectedMs),
    o: nonZero(day.outages),
    lo: nonZero(day.longestOutageMs),
  });
const fromStoredDay = (day: StoredUptimeDay): UptimeDay =>
  defined({
    date: day.d,
    startedConnected: flag(day.c0),
    endedConnected: flag(day.c1),
    connectedMs: day.cm ?? 0,
    disconnectedMs: day.dm ?? 0,
    outages: day.o ?? 0,
    longestOutageMs: day.lo ?? 0,
  });

function toStoredUptime(uptime: UptimeCursor): z.infer<typeof storedUptime> {
  return defined({
    at: uptime.at,
    c: uptime.connected ? (1 as const) : (0 as const),
    d: toStoredDay(uptime.day),
    u: uptime.unsaved?.map(toStoredDay),
  });
}

function fromStoredUptime(stored: z.infer<typeof storedUptime>): UptimeCursor {
  return defined({
    at: stored.at,
    connected: stored.c === 1,
    day: fromStoredDay(stored.d),
    unsaved: stored.u?.map(fromStoredDay),
  });
}

/**
 * The words a device record is made of, most frequent last (a preset dictionary serves its end best). Format 1's
 * dictionary: records were deflated against exactly these bytes, so they never change; a new dictionary is a new
 * format byte, and this one stays to read the records written with it.
 */
const FORMAT_1_DICTIONARY = Buffer.from(
  '{"alert":{"alertId":"/online/","type":"online","abrupt":true,"lastWill":{"state":{"reported":{}}},' +
    '"lastWillAt":,"earliestAt":,"decidedAt":,"retryAt":"/offline/","type":"offline","deviceId":"' +
    '"sessionIdentifier":"","versionNumber":,"disconnectReason":"CLIENT_INITIATED_DISCONNECT",' +
    '"r":"DUPLICATE_CLIENTID","p":["arn:aws:iot:"],"ip":[""]}],"clientid-conflict":[{"t":,"at":,' +
    '"ahead":["/clientid-conflict/","/flapping/"],"outageSince":,"episodes":{"clientid-conflict":,"flapping":},' +
    '"uptime":{"at":,"c":1,"c":0,"d":{"d":"20","c0":1,"c1":1,"cm":,"dm":,"o":,"lo":},"u":[{"d":"20"}]},' +
    '"recheckAt":,"checks":[],"outbox":[]}{"schemaVersion":6,"presence":true,"connections":[{"s":"","v":,"b":1,' +
    '"t0":,"s0":,"t1":,"s1":,"r":"MQTT_KEEP_ALIVE_TIMEOUT","p":"","ip":""}],"wills":[{"id":"will:","at":,' +
    '"p":{}}],"marks":{"flapping":[{"t":,"at":,"r":"CONNECTION_LOST","g":},{"t":,"at":,' +
    '"r":"SERVER_INITIATED_DISCONNECT","g":}]},"last":{"event":,"connected":,"disconnected":,"will":},' +
    '"cursor":{"at":{"sessionIdentifier":"","versionNumber":},"atTime":,"through":"end","through":"start"},',
  'utf8',
);
const DEFLATED_WITH_FORMAT_1_DICTIONARY = 1;

function compress(json: string): Uint8Array {
  const deflated = deflateRawSync(json, { dictionary: FORMAT_1_DICTIONARY });
  const stored = new Uint8Array(deflated.length + 1);
  stored[0] = DEFLATED_WITH_FORMAT_1_DICTIONARY;
  stored.set(deflated, 1);
  return stored;
}

/** The record's JSON text: stored as text (before compression), or inflated from its binary form. */
function recordText(key: string, stored: unknown): unknown {
  if (!(stored instanceof Uint8Array)) return stored;
  if (stored[0] !== DEFLATED_WITH_FORMAT_1_DICTIONARY) {
    throw new StoredRecordError(key, `the record's format ${stored[0]} is not one this code reads`);
  }
  try {
    return inflateRawSync(stored.subarray(1), { dictionary: FORMAT_1_DICTIONARY }).toString('utf8');
  } catch {
    throw new StoredRecordError(key, 'the record cannot be inflated');
  }
}

/** The one attribute that holds the record: its JSON, compressed (see FORMAT_1_DICTIONARY). */
export function encodeDeviceRecord(record: DeviceRecord): Uint8Array {
  return compress(encodeDeviceRecordJson(record));
}

/** The record as JSON, before compression. */
export function encodeDeviceRecordJson(record: DeviceRecord): string {
  const { facts } = record;
  const stored: StoredRecord = defined({
    schemaVersion: DEVICE_RECORD_SCHEMA_VERSION,
    presence: facts.presence,
    connections: facts.connections.map(toStoredConnection),
    wills: facts.wills.map((w) => ({ id: w.eventId, at: w.receivedAt, p: w.payload })),
    marks: mapMarks(facts.marks, toStoredMark),
    last: defined({
      event: facts.lastEventAt,
      connected: facts.lastConnectedAt,
      disconnected: facts.lastDisconnectedAt,
      will: facts.lastWillAt,
    }),
    cursor: record.cursor && defined({ ...record.cursor, uptime: undefined }),
    uptime: record.cursor?.uptime && toStoredUptime(record.cursor.uptime),
    recheckAt: record.recheckAt,
    checks: record.pendingChecks,
    outbox: record.outbox,
  });
  return JSON.stringify(stored);
}

export function decodeDeviceRecord(deviceId: string, text: unknown): DeviceRecord {
  const key = `device ${deviceId}`;
  const stored = readStored(storedRecord, key, parseStoredJson(key, recordText(key, text)));
  const facts: DeviceFacts = defined({
    deviceId,
    presence: stored.presence,
    connections: stored.connections.map(fromStoredConnection),
    wills: stored.wills.map((w): WillFacts => ({ eventId: w.id, receivedAt: w.at, payload: w.p })),
    marks: mapMarks(stored.marks, fromStoredMark),
    lastEventAt: stored.last.event,
    lastConnectedAt: stored.last.connected,
    lastDisconnectedAt: stored.last.disconnected,
    lastWillAt: stored.last.will,
  });
  const cursor =
    stored.cursor && defined({ ...stored.cursor, uptime: stored.uptime && fromStoredUptime(stored.uptime) });
  return defined({
    facts,
    cursor,
    recheckAt: stored.recheckAt,
    pendingChecks: stored.checks,
    outbox: stored.outbox,
  });
}
