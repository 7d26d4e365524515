import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsClients } from '../src/adapters/aws-clients.js';
import { DOCUMENT_TRANSLATION } from '../src/adapters/dynamodb-client.js';
import { countRequests, type RequestCounts } from '../src/local/request-counter.js';
import { createLocalRuntime, type LocalRuntime, type ReceivedAlert } from '../src/local/runtime.js';
import { LOCAL_CREDENTIALS, type LocalAws, startLocalAws } from '../src/local/services/local-aws.js';
import { VirtualTimers } from '../src/local/timers.js';

/** Virtual start of the benchmark clock (the example trace's era). */
export const BENCH_T0 = Date.parse('2026-11-01T00:00:00Z');

/** DynamoDB commands that read (the rest write or manage tables). */
const READ_COMMANDS = new Set([
  'GetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'TransactGetItemsCommand',
]);
/** Commands that accept ReturnConsumedCapacity. */
const CAPACITY_COMMANDS = new Set([
  ...READ_COMMANDS,
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);

interface UnitsLike {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

interface ConsumedCapacityLike extends UnitsLike {
  TableName?: string;
  Table?: UnitsLike;
  GlobalSecondaryIndexes?: Record<string, UnitsLike>;
  LocalSecondaryIndexes?: Record<string, UnitsLike>;
}

const unitsOf = (entry: UnitsLike | undefined) =>
  entry?.CapacityUnits ?? (entry?.ReadCapacityUnits ?? 0) + (entry?.WriteCapacityUnits ?? 0);

export interface CapacityTotals {
  readUnits: number;
  /** Write units of single-item writes (PutItem, UpdateItem, DeleteItem, BatchWriteItem), indexes included. */
  writeUnits: number;
  /** Write units of TransactWriteItems as DynamoDB Local reports them (4 per KB and item: twice AWS's 2). */
  transactWriteUnits: number;
  /**
   * Write units as AWS charges them (transactions halved, see transactWriteUnits), by where they were spent:
   * `<table>` for the base table, `<table>/<index>` for a global secondary index, `+tx` for transactions.
   */
  writeUnitsBy: Record<string, number>;
  /** Requests that asked for consumed capacity and got an answer with it. */
  reported: number;
  /** Requests that asked and got none (a failed conditional write, for instance). */
  unreported: number;
}

interface MiddlewareStackLike {
  add(
    middleware: (
      next: (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>,
      context: { commandName?: string },
    ) => (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>,
    options: { step: 'initialize'; name: string; override?: boolean },
  ): void;
}

/**
 * Asks DynamoDB for ReturnConsumedCapacity=INDEXES (so that index writes count) on every request of a client (when `enabled`) and adds up what
 * the responses report. The caller's input object is not modified: the document client marshals `args.input`.
 */
export class CapacityMeter {
  enabled = false;
  readonly totals: CapacityTotals = {
    readUnits: 0,
    writeUnits: 0,
    transactWriteUnits: 0,
    writeUnitsBy: {},
    reported: 0,
    unreported: 0,
  };

  attach(client: DynamoDBDocumentClient): void {
    (client.middlewareStack as unknown as MiddlewareStackLike).add(
      (next, context) => async (args) => {
        const command = context.commandName ?? '';
        if (!this.enabled || !CAPACITY_COMMANDS.has(command)) return next(args);
        const result = await next({ ...args, input: { ...args.input, ReturnConsumedCapacity: 'INDEXES' } });
        this.record(command, result.output?.ConsumedCapacity);
        return result;
      },
      { step: 'initialize', name: 'benchConsumedCapacity', override: true },
    );
  }

  private recordWhere(command: string, entry: ConsumedCapacityLike): void {
    const transaction = command === 'TransactWriteItemsCommand';
    const add = (where: string, units: number) => {
      const key = transaction ? `${where}+tx` : where;
      this.totals.writeUnitsBy[key] =
        (this.totals.writeUnitsBy[key] ?? 0) + (transaction ? units / 2 : units);
    };
    const table = entry.TableName ?? '?';
    // A local index's writes come out of its table's capacity, and are billed alike.
    const indexes = Object.entries({ ...entry.GlobalSecondaryIndexes, ...entry.LocalSecondaryIndexes });
    add(
      table,
      entry.Table ? unitsOf(entry.Table) : unitsOf(entry) - indexes.reduce((n, [, u]) => n + unitsOf(u), 0),
    );
    for (const [index, units] of indexes) add(`${table}/${index}`, unitsOf(units));
  }

  private record(command: string, consumed: unknown): void {
    const entries = (
      Array.isArray(consumed) ? consumed : consumed ? [consumed] : []
    ) as ConsumedCapacityLike[];
    if (entries.length === 0) {
      this.totals.unreported += 1;
      return;
    }
    this.totals.reported += 1;
    for (const entry of entries) {
      const units = unitsOf(entry);
      if (READ_COMMANDS.has(command)) this.totals.readUnits += units;
      else {
        if (command === 'TransactWriteItemsCommand') this.totals.transactWriteUnits += units;
        else this.totals.writeUnits += units;
        this.recordWhere(command, entry);
      }
    }
  }
}

export interface Measured {
  /** AWS write units by table and index (see CapacityTotals.writeUnitsBy). */
  writeUnitsBy: Record<string, number>;
  /** Requests per `service.Command`, counted by the SDK middleware. */
  requests: RequestCounts;
  dynamodb: number;
  dynamodbReads: number;
  dynamodbWrites: number;
  sns: number;
  sqs: number;
  readUnits: number;
  writeUnits: number;
  /** As DynamoDB Local reports them; AWS charges half (2 write units per KB and item). */
  transactWriteUnits: number;
  /** writeUnits + transactWriteUnits / 2: the write units AWS's pricing rules give. */
  awsWriteUnits: number;
  capacityReported: number;
  capacityUnreported: number;
}

/** Counts the requests (and, when the meter is enabled, the consumed capacity) of one phase of a benchmark. */
export class Meter {
  constructor(
    private readonly counts: RequestCounts,
    readonly capacity: CapacityMeter,
  ) {}

  start(): () => Measured {
    const before = { ...this.counts };
    const capacityBefore = {
      ...this.capacity.totals,
      writeUnitsBy: { ...this.capacity.totals.writeUnitsBy },
    };
    return () => {
      const requests: RequestCounts = {};
      for (const [key, value] of Object.entries(this.counts)) {
        const delta = value - (before[key] ?? 0);
        if (delta > 0) requests[key] = delta;
      }
      const sum = (filter: (key: string) => boolean) =>
        Object.entries(requests)
          .filter(([key]) => filter(key))
          .reduce((total, [, value]) => total + value, 0);
      const command = (key: string) => key.slice(key.indexOf('.') + 1);
      const writeUnitsBy: Record<string, number> = {};
      for (const [where, units] of Object.entries(this.capacity.totals.writeUnitsBy)) {
        const delta = units - (capacityBefore.writeUnitsBy[where] ?? 0);
        if (delta > 0) writeUnitsBy[where] = delta;
      }
      return {
        requests,
        writeUnitsBy,
        dynamodb: sum((key) => key.startsWith('dynamodb.')),
        dynamodbReads: sum((key) => key.startsWith('dynamodb.') && READ_COMMANDS.has(command(key))),
        dynamodbWrites: sum((key) => key.startsWith('dynamodb.') && !READ_COMMANDS.has(command(key))),
        sns: sum((key) => key.startsWith('sns.')),
        sqs: sum((key) => key.startsWith('sqs.')),
        readUnits: this.capacity.totals.readUnits - capacityBefore.readUnits,
        writeUnits: this.capacity.totals.writeUnits - capacityBefore.writeUnits,
        transactWriteUnits: this.capacity.totals.transactWriteUnits - capacityBefore.transactWriteUnits,
        awsWriteUnits:
          this.capacity.totals.writeUnits -
          capacityBefore.writeUnits +
          (this.capacity.totals.transactWriteUnits - capacityBefore.transactWriteUnits) / 2,
        capacityReported: this.capacity.totals.reported - capacityBefore.reported,
        capacityUnreported: this.capacity.totals.unreported - capacityBefore.unreported,
      };
    };
  }
}

export interface BenchStack {
  aws: LocalAws;
  timers: VirtualTimers;
  runtime: LocalRuntime;
  meter: Meter;
  /** A client outside the counted runtime: seeding and baselines. Configured like the functions' client. */
  plainDynamo: DynamoDBDocumentClient;
  stop(): Promise<void>;
}

/** A document client configured like src/adapters/aws-clients.ts, for writes the runtime must not count. */
function plainDocumentClient(endpoint: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 4 }),
    DOCUMENT_TRANSLATION,
  );
}

/** Instruments a runtime's clients: request counts (countRequests) and consumed capacity. */
export function instrument(clients: AwsClients): Meter {
  const counts = countRequests(clients);
  const capacity = new CapacityMeter();
  capacity.attach(clients.dynamo);
  return new Meter(counts, capacity);
}

/** DynamoDB Local, the SNS/SQS emulator and the real handlers on a virtual clock, with nothing scheduled. */
export async function startBenchStack(): Promise<BenchStack> {
  const aws = await startLocalAws({ prefix: 'bench' });
  try {
    const timers = new VirtualTimers(BENCH_T0);
    // No scheduled sweep: the benchmarks run it when they measure it.
    const runtime = await createLocalRuntime({ aws, timers, sweepEveryMs: 0 });
    const meter = instrument(runtime.ports.clients);
    const plainDynamo = plainDocumentClient(aws.dynamoEndpoint);
    return {
      aws,
      timers,
      runtime,
      meter,
      plainDynamo,
      stop: async () => {
        plainDynamo.destroy();
        try {
          await runtime.stop();
        } finally {
          await aws.stop();
        }
      },
    };
  } catch (error) {
    await aws.stop();
    throw error;
  }
}

/** Approximate DynamoDB item size (attribute names plus values, as AWS counts them). */
function itemBytes(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'number') return Math.ceil(String(value).replace(/^-|\./g, '').length / 2) + 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + 1 + itemBytes(v), 0);
  if (typeof value === 'object') {
    return (
      3 +
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .reduce((sum, [k, v]) => sum + Buffer.byteLength(k, 'utf8') + 1 + itemBytes(v), 0)
    );
  }
  return 0;
}

/** Records the size of every device item the functions write (PutItem, or a Put inside a transaction). */
export function recordDeviceItemSizes(clients: AwsClients, devicesTable: string): number[] {
  const sizes: number[] = [];
  const topLevel = (item: Record<string, unknown>) =>
    Object.entries(item)
      .filter(([, v]) => v !== undefined)
      .reduce((sum, [k, v]) => sum + Buffer.byteLength(k, 'utf8') + itemBytes(v), 0);
  (clients.dynamo.middlewareStack as unknown as MiddlewareStackLike).add(
    (next) => async (args) => {
      const input = args.input as {
        TableName?: string;
        Item?: Record<string, unknown>;
        TransactItems?: Array<{ Put?: { TableName?: string; Item?: Record<string, unknown> } }>;
      };
      if (input.TableName === devicesTable && input.Item) sizes.push(topLevel(input.Item));
      for (const entry of input.TransactItems ?? []) {
        if (entry.Put?.TableName === devicesTable && entry.Put.Item) sizes.push(topLevel(entry.Put.Item));
      }
      return next(args);
    },
    { step: 'initialize', name: 'benchDeviceItemSizes', override: true },
  );
  return sizes;
}

/** Reads the alert inbox until it stays empty (the emulator fans SNS out to SQS asynchronously). */
export async function receiveAllAlerts(stack: Pick<BenchStack, 'runtime'>): Promise<ReceivedAlert[]> {
  const alerts: ReceivedAlert[] = [];
  for (let quiet = 0; quiet < 3; ) {
    const batch = await stack.runtime.receiveAlerts();
    alerts.push(...batch);
    quiet = batch.length === 0 ? quiet + 1 : 0;
    if (batch.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return alerts;
}
