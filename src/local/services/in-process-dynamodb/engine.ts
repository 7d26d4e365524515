import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  ConditionalCheckFailedException,
  DynamoDBServiceException,
  ResourceInUseException,
  ResourceNotFoundException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import {
  applyUpdate,
  type Condition,
  compareScalars,
  type ExpressionContext,
  ExpressionError,
  evaluate,
  getPath,
  type Item,
  parseCondition,
  parseProjection,
  parseUpdate,
  project,
  valuesEqual,
} from './expressions.js';

/**
 * The part of DynamoDB the functions use, in this process, on items in their document form: tables with a key
 * schema, global secondary indexes (sparse, with their projection), streams, and the item, query, batch and
 * transaction operations with their condition, update, key condition, filter and projection expressions. Every
 * write is atomic (one JavaScript turn), as DynamoDB makes a single item's write; a transaction is all or nothing.
 * What it leaves out, and no function here relies on: the 1 MB page and 400 KB item limits, capacity, TTL deletion
 * and eventually consistent reads (every read here is strongly consistent, as DynamoDB Local's are).
 */

export interface KeySchema {
  hash: string;
  range?: string;
}

export interface TableDefinition {
  TableName: string;
  KeySchema: Array<{ AttributeName: string; KeyType: 'HASH' | 'RANGE' | string }>;
  GlobalSecondaryIndexes?: Array<{
    IndexName: string;
    KeySchema: Array<{ AttributeName: string; KeyType: string }>;
    Projection: { ProjectionType?: string; NonKeyAttributes?: string[] };
  }>;
  StreamSpecification?: { StreamEnabled?: boolean; StreamViewType?: string };
}

interface Index {
  name: string;
  key: KeySchema;
  projection: (item: Item, table: KeySchema) => Item;
}

export interface StreamRecord {
  eventID: string;
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  eventVersion: string;
  eventSource: string;
  awsRegion: string;
  dynamodb: {
    ApproximateCreationDateTime: Date;
    Keys: Record<string, AttributeValue>;
    NewImage?: Record<string, AttributeValue>;
    OldImage?: Record<string, AttributeValue>;
    SequenceNumber: string;
    SizeBytes: number;
    StreamViewType: string;
  };
}

/** A write as the stream keeps it; its record (attribute values) is made when a reader asks for it. */
interface StreamEntry {
  sequence: bigint;
  at: number;
  key: Item;
  before: Item | undefined;
  after: Item | undefined;
}

interface Stream {
  arn: string;
  viewType: string;
  entries: StreamEntry[];
}

interface Table {
  name: string;
  key: KeySchema;
  indexes: Map<string, Index>;
  /** Items by partition key value, each partition's items by their sort key (or '' without one). */
  partitions: Map<string, Map<string, Item>>;
  stream?: Stream;
}

/** One write of a transaction or of a single-item operation, checked before any is applied. */
interface PlannedWrite {
  table: Table;
  key: Item;
  before: Item | undefined;
  after: Item | undefined;
}

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
export const SHARD_ID = 'shardId-00000001-in-process';

function keySchemaOf(elements: ReadonlyArray<{ AttributeName: string; KeyType: string }>): KeySchema {
  const hash = elements.find((e) => e.KeyType === 'HASH')?.AttributeName;
  const range = elements.find((e) => e.KeyType === 'RANGE')?.AttributeName;
  if (!hash) throw validation('A key schema needs a HASH key');
  return range ? { hash, range } : { hash };
}

export function validation(message: string): DynamoDBServiceException {
  return new DynamoDBServiceException({
    name: 'ValidationException',
    $fault: 'client',
    message,
    $metadata: { httpStatusCode: 400 },
  });
}

function conditionFailed(item: Item | undefined, returnItem: boolean): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    ...(returnItem && item ? { Item: marshall(item) } : {}),
  });
}

/** A key attribute's value as a map key: its type and its text. */
function keyText(value: unknown): string {
  if (typeof value === 'string') return `S${value}`;
  if (typeof value === 'number') return `N${value}`;
  if (value instanceof Uint8Array) return `B${Buffer.from(value).toString('base64')}`;
  throw validation(
    'One or more parameter values were invalid: a key attribute must be a string, number or binary',
  );
}

function expressionContext(input: {
  ExpressionAttributeNames?: Record<string, string> | undefined;
  ExpressionAttributeValues?: Record<string, unknown> | undefined;
}): ExpressionContext {
  return { names: input.ExpressionAttributeNames, values: input.ExpressionAttributeValues };
}

/** Parses with the error DynamoDB gives (a ValidationException). */
function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ExpressionError) throw validation(error.message);
    throw error;
  }
}

export interface ItemInput extends ExpressionInput {
  TableName: string;
  ConditionExpression?: string | undefined;
  ReturnValues?: string | undefined;
  ReturnValuesOnConditionCheckFailure?: string | undefined;
}

interface ExpressionInput {
  ExpressionAttributeNames?: Record<string, string> | undefined;
  ExpressionAttributeValues?: Record<string, unknown> | undefined;
}

export interface QueryInput extends ExpressionInput {
  TableName: string;
  IndexName?: string | undefined;
  KeyConditionExpression: string;
  FilterExpression?: string | undefined;
  ProjectionExpression?: string | undefined;
  Limit?: number | undefined;
  ExclusiveStartKey?: Item | undefined;
  ScanIndexForward?: boolean | undefined;
  Select?: string | undefined;
}

export interface TransactItem {
  Put?: ItemInput & { Item: Item };
  Update?: ItemInput & { Key: Item; UpdateExpression: string };
  Delete?: ItemInput & { Key: Item };
  ConditionCheck?: ItemInput & { Key: Item; ConditionExpression: string };
}

export class InProcessDynamoDbEngine {
  private readonly tables = new Map<string, Table>();
  private sequence = 0n;

  constructor(private readonly clock: () => number = Date.now) {}

  createTable(definition: TableDefinition): { streamArn?: string } {
    if (this.tables.has(definition.TableName))
      throw new ResourceInUseException({
        message: `Table already exists: ${definition.TableName}`,
        $metadata: { httpStatusCode: 400 },
      });
    const key = keySchemaOf(definition.KeySchema);
    const indexes = new Map<string, Index>();
    for (const gsi of definition.GlobalSecondaryIndexes ?? []) {
      const indexKey = keySchemaOf(gsi.KeySchema);
      const type = gsi.Projection.ProjectionType ?? 'ALL';
      const extra = gsi.Projection.NonKeyAttributes ?? [];
      indexes.set(gsi.IndexName, {
        name: gsi.IndexName,
        key: indexKey,
        projection: (item, tableKey) => {
          if (type === 'ALL') return item;
          const kept = [
            tableKey.hash,
            tableKey.range,
            indexKey.hash,
            indexKey.range,
            ...(type === 'INCLUDE' ? extra : []),
          ];
          return Object.fromEntries(Object.entries(item).filter(([name]) => kept.includes(name)));
        },
      });
    }
    const table: Table = { name: definition.TableName, key, indexes, partitions: new Map() };
    if (definition.StreamSpecification?.StreamEnabled) {
      const label = new Date(this.clock()).toISOString().replace(/Z$/, '');
      table.stream = {
        arn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${definition.TableName}/stream/${label}`,
        viewType: definition.StreamSpecification.StreamViewType ?? 'NEW_AND_OLD_IMAGES',
        entries: [],
      };
    }
    this.tables.set(definition.TableName, table);
    return table.stream ? { streamArn: table.stream.arn } : {};
  }

  private table(name: string): Table {
    const table = this.tables.get(name);
    if (!table)
      throw new ResourceNotFoundException({
        message: 'Cannot do operations on a non-existent table',
        $metadata: { httpStatusCode: 400 },
      });
    return table;
  }

  /** The item's primary key, checked as DynamoDB checks it (every key attribute, of a key type, and no other). */
  private keyOf(table: Table, source: Item, exact: boolean): Item {
    const names = [table.key.hash, ...(table.key.range ? [table.key.range] : [])];
    if (exact && Object.keys(source).length !== names.length)
      throw validation('The provided key element does not match the schema');
    const key: Item = {};
    for (const name of names) {
      const value = source[name];
      if (value === undefined) throw validation('The provided key element does not match the schema');
      if (value === '')
        throw validation(
          `One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ${name}`,
        );
      keyText(value);
      key[name] = value;
    }
    return key;
  }

  private read(table: Table, key: Item): Item | undefined {
    const partition = table.partitions.get(keyText(key[table.key.hash]));
    return partition?.get(table.key.range ? keyText(key[table.key.range]) : '');
  }

  private check(
    condition: string | undefined,
    input: ItemInput,
    before: Item | undefined,
  ): { ok: true } | { ok: false; error: ConditionalCheckFailedException } {
    if (!condition) return { ok: true };
    const context = expressionContext(input);
    const parsedCondition: Condition = parsed(() => parseCondition(condition, context));
    if (evaluate(parsedCondition, before ?? {}, context)) return { ok: true };
    return {
      ok: false,
      error: conditionFailed(before, input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD'),
    };
  }

  private planPut(input: ItemInput & { Item: Item }): PlannedWrite {
    const table = this.table(input.TableName);
    const key = this.keyOf(table, input.Item, false);
    return { table, key, before: this.read(table, key), after: structuredClone(input.Item) };
  }

  private planUpdate(input: ItemInput & { Key: Item; UpdateExpression: string }): PlannedWrite {
    const table = this.table(input.TableName);
    const key = this.keyOf(table, input.Key, true);
    const before = this.read(table, key);
    const context = expressionContext(input);
    const actions = parsed(() => parseUpdate(input.UpdateExpression, context));
    for (const path of [...actions.set, ...actions.add, ...actions.delete]
      .map((a) => a.path)
      .concat(actions.remove))
      if (path[0] === table.key.hash || path[0] === table.key.range)
        throw validation(`Cannot update attribute ${String(path[0])}. This attribute is part of the key`);
    return {
      table,
      key,
      before,
      after: parsed(() => applyUpdate(before ?? structuredClone(key), actions, context)),
    };
  }

  private planDelete(input: ItemInput & { Key: Item }): PlannedWrite {
    const table = this.table(input.TableName);
    const key = this.keyOf(table, input.Key, true);
    return { table, key, before: this.read(table, key), after: undefined };
  }

  private apply(write: PlannedWrite): void {
    const { table, key, before, after } = write;
    const partitionKey = keyText(key[table.key.hash]);
    const sortKey = table.key.range ? keyText(key[table.key.range]) : '';
    if (after) {
      let partition = table.partitions.get(partitionKey);
      if (!partition) {
        partition = new Map();
        table.partitions.set(partitionKey, partition);
      }
      partition.set(sortKey, after);
    } else {
      const partition = table.partitions.get(partitionKey);
      partition?.delete(sortKey);
      if (partition?.size === 0) table.partitions.delete(partitionKey);
    }
    this.record(table, key, before, after);
  }

  /** A stream entry for a write that changed the item (DynamoDB writes no record for a write that changed nothing). */
  private record(table: Table, key: Item, before: Item | undefined, after: Item | undefined): void {
    const stream = table.stream;
    if (!stream || (before === undefined && after === undefined)) return;
    if (before && after && valuesEqual(before, after)) return;
    this.sequence += 1n;
    stream.entries.push({ sequence: this.sequence, at: this.clock(), key, before, after });
  }

  private returned(returnValues: string | undefined, write: PlannedWrite): { Attributes?: Item } {
    if (returnValues === 'ALL_OLD' && write.before) return { Attributes: structuredClone(write.before) };
    if (returnValues === 'ALL_NEW' && write.after) return { Attributes: structuredClone(write.after) };
    if ((returnValues === 'UPDATED_NEW' || returnValues === 'UPDATED_OLD') && write.after) {
      const source = returnValues === 'UPDATED_NEW' ? write.after : (write.before ?? {});
      const other = returnValues === 'UPDATED_NEW' ? (write.before ?? {}) : write.after;
      const changed = Object.keys(source).filter(
        (name) =>
          JSON.stringify(marshall({ v: source[name] })) !== JSON.stringify(marshall({ v: other[name] })),
      );
      return changed.length > 0
        ? { Attributes: structuredClone(Object.fromEntries(changed.map((name) => [name, source[name]]))) }
        : {};
    }
    return {};
  }

  private single(plan: PlannedWrite, input: ItemInput): { Attributes?: Item } {
    const verdict = this.check(input.ConditionExpression, input, plan.before);
    if (!verdict.ok) throw verdict.error;
    this.apply(plan);
    return this.returned(input.ReturnValues, plan);
  }

  putItem(input: ItemInput & { Item: Item }): { Attributes?: Item } {
    return this.single(this.planPut(input), input);
  }

  updateItem(input: ItemInput & { Key: Item; UpdateExpression: string }): { Attributes?: Item } {
    return this.single(this.planUpdate(input), input);
  }

  deleteItem(input: ItemInput & { Key: Item }): { Attributes?: Item } {
    return this.single(this.planDelete(input), input);
  }

  getItem(
    input: ExpressionInput & { TableName: string; Key: Item; ProjectionExpression?: string | undefined },
  ): {
    Item?: Item;
  } {
    const table = this.table(input.TableName);
    const item = this.read(table, this.keyOf(table, input.Key, true));
    if (!item) return {};
    return { Item: this.projected(item, input) };
  }

  private projected(
    item: Item,
    input: ExpressionInput & { ProjectionExpression?: string | undefined },
  ): Item {
    if (!input.ProjectionExpression) return structuredClone(item);
    const expression = input.ProjectionExpression;
    const context = expressionContext(input);
    return project(
      item,
      parsed(() => parseProjection(expression, context)),
    );
  }

  batchGetItem(input: {
    RequestItems: Record<string, ExpressionInput & { Keys: Item[]; ProjectionExpression?: string }>;
  }): { Responses: Record<string, Item[]>; UnprocessedKeys: Record<string, never> } {
    const responses: Record<string, Item[]> = {};
    let count = 0;
    for (const [tableName, request] of Object.entries(input.RequestItems)) {
      count += request.Keys.length;
      responses[tableName] = request.Keys.flatMap((key) => {
        const found = this.getItem({ TableName: tableName, Key: key, ...request });
        return found.Item ? [found.Item] : [];
      });
    }
    if (count > 100) throw validation('Too many items requested for the BatchGetItem call');
    return { Responses: responses, UnprocessedKeys: {} };
  }

  transactWriteItems(input: { TransactItems: TransactItem[] }): Record<string, never> {
    if (input.TransactItems.length > 100)
      throw validation('Member must have length less than or equal to 100');
    const plans = input.TransactItems.map((entry) => {
      if (entry.Put) return { plan: this.planPut(entry.Put), input: entry.Put };
      if (entry.Update) return { plan: this.planUpdate(entry.Update), input: entry.Update };
      if (entry.Delete) return { plan: this.planDelete(entry.Delete), input: entry.Delete };
      if (entry.ConditionCheck) {
        const table = this.table(entry.ConditionCheck.TableName);
        const key = this.keyOf(table, entry.ConditionCheck.Key, true);
        const before = this.read(table, key);
        return { plan: { table, key, before, after: before }, input: entry.ConditionCheck, checkOnly: true };
      }
      throw validation('A transaction item needs one of Put, Update, Delete or ConditionCheck');
    });
    const targets = plans.map(({ plan }) => `${plan.table.name}|${JSON.stringify(marshall(plan.key))}`);
    if (new Set(targets).size !== targets.length)
      throw validation('Transaction request cannot include multiple operations on one item');
    const verdicts = plans.map(({ plan, input: item }) =>
      this.check(item.ConditionExpression, item, plan.before),
    );
    if (verdicts.some((verdict) => !verdict.ok)) {
      const reasons = verdicts.map((verdict, i) =>
        verdict.ok
          ? { Code: 'None' }
          : {
              Code: 'ConditionalCheckFailed',
              Message: 'The conditional request failed',
              ...(plans[i]?.input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && plans[i]?.plan.before
                ? { Item: marshall(plans[i]?.plan.before as Item) }
                : {}),
            },
      );
      throw new TransactionCanceledException({
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: reasons,
      });
    }
    for (const entry of plans) if (!('checkOnly' in entry)) this.apply(entry.plan);
    return {};
  }

  query(input: QueryInput): {
    Items?: Item[];
    Count: number;
    ScannedCount: number;
    LastEvaluatedKey?: Item;
  } {
    const table = this.table(input.TableName);
    const index = input.IndexName ? table.indexes.get(input.IndexName) : undefined;
    if (input.IndexName && !index)
      throw validation(`The table does not have the specified index: ${input.IndexName}`);
    const key = index?.key ?? table.key;
    const context = expressionContext(input);
    const keyCondition = parsed(() => parseCondition(input.KeyConditionExpression, context));
    const hashValue = hashEquality(keyCondition, key.hash, context);
    const filter = input.FilterExpression
      ? parsed(() => parseCondition(input.FilterExpression as string, context))
      : undefined;
    // Candidates in the key's order: an index is read by walking the table (indexes here are small).
    let candidates: Item[];
    if (!index) {
      const partition = table.partitions.get(keyText(hashValue));
      candidates = partition ? [...partition.values()] : [];
    } else {
      candidates = [];
      for (const partition of table.partitions.values())
        for (const item of partition.values())
          if (
            item[key.hash] !== undefined &&
            (!key.range || item[key.range] !== undefined) &&
            compareScalars(item[key.hash], hashValue) === 0
          )
            candidates.push(index.projection(item, table.key));
    }
    const order = (a: Item, b: Item) =>
      (key.range ? (compareScalars(a[key.range], b[key.range]) ?? 0) : 0) ||
      (index ? tableKeyOrder(table.key, a, b) : 0);
    candidates.sort(order);
    if (input.ScanIndexForward === false) candidates.reverse();
    if (input.ExclusiveStartKey) {
      const start = input.ExclusiveStartKey;
      const after = (item: Item) => {
        const difference = order(item, start);
        return input.ScanIndexForward === false ? difference < 0 : difference > 0;
      };
      candidates = candidates.filter(after);
    }
    candidates = candidates.filter((item) => evaluate(keyCondition, item, context));
    const limit = input.Limit;
    const evaluated = limit !== undefined ? candidates.slice(0, limit) : candidates;
    const matched = filter ? evaluated.filter((item) => evaluate(filter, item, context)) : evaluated;
    const last = evaluated[evaluated.length - 1];
    const more = limit !== undefined && candidates.length > limit && last !== undefined;
    const lastKey = more
      ? Object.fromEntries(
          [table.key.hash, table.key.range, index?.key.hash, index?.key.range]
            .filter((name): name is string => name !== undefined)
            .map((name) => [name, structuredClone(last[name])]),
        )
      : undefined;
    return {
      ...(input.Select === 'COUNT' ? {} : { Items: matched.map((item) => this.projected(item, input)) }),
      Count: matched.length,
      ScannedCount: evaluated.length,
      ...(lastKey ? { LastEvaluatedKey: lastKey } : {}),
    };
  }

  // ---- streams

  private stream(arn: string): Stream {
    for (const table of this.tables.values()) if (table.stream?.arn === arn) return table.stream;
    throw new ResourceNotFoundException({
      message: `Requested resource not found: Stream: ${arn} not found`,
      $metadata: { httpStatusCode: 400 },
    });
  }

  describeStream(input: { StreamArn: string }) {
    const stream = this.stream(input.StreamArn);
    const first = stream.entries[0]?.sequence ?? 1n;
    return {
      StreamDescription: {
        StreamArn: stream.arn,
        StreamStatus: 'ENABLED',
        StreamViewType: stream.viewType,
        Shards: [
          { ShardId: SHARD_ID, SequenceNumberRange: { StartingSequenceNumber: sequenceNumber(first) } },
        ],
      },
    };
  }

  getShardIterator(input: {
    StreamArn: string;
    ShardId: string;
    ShardIteratorType: string;
    SequenceNumber?: string;
  }): { ShardIterator: string } {
    const stream = this.stream(input.StreamArn);
    if (input.ShardId !== SHARD_ID)
      throw new ResourceNotFoundException({
        message: 'Requested resource not found: Shard does not exist',
        $metadata: { httpStatusCode: 400 },
      });
    const type = input.ShardIteratorType;
    if (type === 'TRIM_HORIZON') return { ShardIterator: iterator(stream.arn, 0) };
    if (type === 'LATEST') return { ShardIterator: iterator(stream.arn, stream.entries.length) };
    const sequence = BigInt(input.SequenceNumber ?? '0') - SEQUENCE_BASE;
    // The first entry at (or after) the sequence number: entries are in sequence order.
    let low = 0;
    let high = stream.entries.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      const at = (stream.entries[middle] as StreamEntry).sequence;
      if (type === 'AT_SEQUENCE_NUMBER' ? at < sequence : at <= sequence) low = middle + 1;
      else high = middle;
    }
    return { ShardIterator: iterator(stream.arn, low) };
  }

  getRecords(input: { ShardIterator: string; Limit?: number }): {
    Records: StreamRecord[];
    NextShardIterator: string;
  } {
    const [arn, position] = fromIterator(input.ShardIterator);
    const stream = this.stream(arn);
    const entries = stream.entries.slice(position, position + (input.Limit ?? 1000));
    return {
      Records: entries.map((entry) => streamRecord(entry, stream.viewType)),
      NextShardIterator: iterator(arn, position + entries.length),
    };
  }
}

const SEQUENCE_BASE = 100_000_000_000_000_000_000n;

/** Sequence numbers as DynamoDB writes them: decimal strings of 21 digits or more, increasing. */
function sequenceNumber(sequence: bigint): string {
  return (SEQUENCE_BASE + sequence).toString();
}

function streamRecord(entry: StreamEntry, view: string): StreamRecord {
  const newImage =
    entry.after && (view === 'NEW_IMAGE' || view === 'NEW_AND_OLD_IMAGES')
      ? marshall(entry.after)
      : undefined;
  const oldImage =
    entry.before && (view === 'OLD_IMAGE' || view === 'NEW_AND_OLD_IMAGES')
      ? marshall(entry.before)
      : undefined;
  const keys = marshall(entry.key);
  const images = { ...(newImage ? { NewImage: newImage } : {}), ...(oldImage ? { OldImage: oldImage } : {}) };
  return {
    eventID: `in-process-${entry.sequence}`,
    eventName: !entry.before ? 'INSERT' : !entry.after ? 'REMOVE' : 'MODIFY',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: REGION,
    dynamodb: {
      ApproximateCreationDateTime: new Date(Math.floor(entry.at / 1000) * 1000),
      Keys: keys,
      ...images,
      SequenceNumber: sequenceNumber(entry.sequence),
      SizeBytes: JSON.stringify({ keys, ...images }).length,
      StreamViewType: view,
    },
  };
}

function iterator(arn: string, position: number): string {
  return Buffer.from(JSON.stringify([arn, position])).toString('base64');
}

function fromIterator(text: string): [string, number] {
  try {
    const [arn, position] = JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as [string, number];
    if (typeof arn === 'string' && Number.isInteger(position)) return [arn, position];
  } catch {
    // answered below
  }
  throw validation('Invalid ShardIterator');
}

function tableKeyOrder(key: KeySchema, a: Item, b: Item): number {
  return (
    (compareScalars(a[key.hash], b[key.hash]) ?? 0) ||
    (key.range ? (compareScalars(a[key.range], b[key.range]) ?? 0) : 0)
  );
}

/** The partition a key condition names: `hash = :v`, alone or ANDed with a condition on the sort key. */
function hashEquality(condition: Condition, hash: string, context: ExpressionContext): unknown {
  const found = findHash(condition, hash, context);
  if (found === undefined) throw validation(`Query condition missed key schema element: ${hash}`);
  return found;
}

function findHash(condition: Condition, hash: string, context: ExpressionContext): unknown {
  if (condition.kind === 'and')
    return findHash(condition.left, hash, context) ?? findHash(condition.right, hash, context);
  if (
    condition.kind === 'compare' &&
    condition.op === '=' &&
    condition.left.kind === 'path' &&
    condition.left.path.length === 1 &&
    condition.left.path[0] === hash &&
    condition.right.kind === 'value'
  )
    return context.values?.[condition.right.name];
  return undefined;
}
