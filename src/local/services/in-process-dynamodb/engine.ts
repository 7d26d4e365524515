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
  type Item,
  type Operand,
  type Path,
  parseCondition,
  parseProjection,
  parseUpdate,
  project,
  typeOf,
  updatedPaths,
  valuesEqual,
} from './expressions.js';

/**
 * The part of DynamoDB the functions use, in this process, on items in their document form: tables with a key
 * schema, global and local secondary indexes (sparse, with their projection), streams, and the item, query, batch and
 * transaction operations with their condition, update, key condition, filter and projection expressions. Every
 * write is atomic (one JavaScript turn), as DynamoDB makes a single item's write; a transaction is all or nothing.
 * What it leaves out, and no function here relies on: the 1 MB page and 400 KB item limits, capacity, TTL deletion
 * and eventually consistent reads (every read here is strongly consistent, as DynamoDB Local's are).
 */

interface KeySchema {
  hash: string;
  range?: string;
}

interface IndexDefinition {
  IndexName: string;
  KeySchema: Array<{ AttributeName: string; KeyType: string }>;
  Projection: { ProjectionType?: string; NonKeyAttributes?: string[] };
}

export interface TableDefinition {
  TableName: string;
  /** The types (S, N, B) of the key attributes of the table and its indexes. */
  AttributeDefinitions?: Array<{ AttributeName: string; AttributeType: string }>;
  KeySchema: Array<{ AttributeName: string; KeyType: 'HASH' | 'RANGE' | string }>;
  GlobalSecondaryIndexes?: IndexDefinition[];
  LocalSecondaryIndexes?: IndexDefinition[];
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
  /** The defined type of each key attribute of the table and its indexes. */
  keyTypes: Map<string, string>;
  indexes: Map<string, Index>;
  /** Items by partition key value, each partition's items by their sort key (or '' without one). */
  partitions: Map<string, Map<string, Item>>;
  stream?: Stream;
}

/**
 * One write of a transaction or of a single-item operation, its expressions parsed, checked before any is applied.
 * The item after it is made only once its condition holds: DynamoDB answers a failed condition before it finds
 * that the update cannot be applied to the item.
 */
interface PlannedWrite {
  table: Table;
  key: Item;
  before: Item | undefined;
  condition?: { parsed: Condition; context: ExpressionContext };
  /** The item after the write (undefined: deleted); throws an ExpressionError when it cannot be made. */
  after: () => Item | undefined;
  /** A problem DynamoDB reports as the item's validation error (in a transaction, its cancellation reason). */
  invalid?: string;
  /** The paths an update names: what UPDATED_OLD and UPDATED_NEW return. */
  paths?: Path[];
}

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const SHARD_ID = 'shardId-00000001-in-process';

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
  return {
    names: input.ExpressionAttributeNames,
    values: input.ExpressionAttributeValues,
    used: { names: new Set(), values: new Set() },
  };
}

/** Once every expression of a request is parsed: DynamoDB rejects names and values that none of them used. */
function assertAllUsed(context: ExpressionContext): void {
  for (const [kind, given, used] of [
    ['ExpressionAttributeNames', context.names, context.used?.names],
    ['ExpressionAttributeValues', context.values, context.used?.values],
  ] as const) {
    const unused = Object.keys(given ?? {}).filter((name) => !used?.has(name));
    if (unused.length > 0)
      throw validation(`Value provided in ${kind} unused in expressions: keys: {${unused.join(', ')}}`);
  }
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
    const secondary = [
      ...(definition.GlobalSecondaryIndexes ?? []),
      ...(definition.LocalSecondaryIndexes ?? []),
    ];
    for (const gsi of secondary) {
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
    const keyTypes = new Map(
      (definition.AttributeDefinitions ?? []).map((attribute) => [
        attribute.AttributeName,
        attribute.AttributeType,
      ]),
    );
    const table: Table = { name: definition.TableName, key, keyTypes, indexes, partitions: new Map() };
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
      if (table.keyTypes.has(name) && typeOf(value) !== table.keyTypes.get(name))
        throw validation('One or more parameter values were invalid: Type mismatch for key');
      key[name] = value;
    }
    return key;
  }

  /** An item an index would hold must have its index key attributes of their defined type, and not empty. */
  private checkIndexKeys(table: Table, item: Item): void {
    for (const index of table.indexes.values()) {
      const names = [index.key.hash, ...(index.key.range ? [index.key.range] : [])];
      if (names.some((name) => item[name] === undefined)) continue;
      for (const name of names) {
        const value = item[name];
        if (typeOf(value) !== (table.keyTypes.get(name) ?? typeOf(value)))
          throw new ExpressionError('One or more parameter values were invalid: Type mismatch for Index Key');
        if (value === '' || (value instanceof Uint8Array && value.length === 0))
          throw new ExpressionError(
            `One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: ${index.name}, IndexKey: ${name}`,
          );
      }
    }
  }

  private read(table: Table, key: Item): Item | undefined {
    const partition = table.partitions.get(keyText(key[table.key.hash]));
    return partition?.get(table.key.range ? keyText(key[table.key.range]) : '');
  }

  /** The write's condition, parsed; with it every expression of the write is parsed, so unused names show. */
  private conditionOf(input: ItemInput, context: ExpressionContext): PlannedWrite['condition'] {
    const expression = input.ConditionExpression;
    const condition = expression
      ? { parsed: parsed(() => parseCondition(expression, context)), context }
      : undefined;
    assertAllUsed(context);
    return condition;
  }

  private holds(plan: PlannedWrite): boolean {
    return !plan.condition || evaluate(plan.condition.parsed, plan.before ?? {}, plan.condition.context);
  }

  private planPut(input: ItemInput & { Item: Item }): PlannedWrite {
    const table = this.table(input.TableName);
    const key = this.keyOf(table, input.Item, false);
    const item = structuredClone(input.Item);
    parsed(() => this.checkIndexKeys(table, item));
    const condition = this.conditionOf(input, expressionContext(input));
    return { table, key, before: this.read(table, key), condition, after: () => item };
  }

  private planUpdate(input: ItemInput & { Key: Item; UpdateExpression: string }): PlannedWrite {
    const table = this.table(input.TableName);
    const key = this.keyOf(table, input.Key, true);
    const before = this.read(table, key);
    const context = expressionContext(input);
    const actions = parsed(() => parseUpdate(input.UpdateExpression, context));
    const condition = this.conditionOf(input, context);
    const paths = updatedPaths(actions);
    const keyPath = paths.find((path) => path[0] === table.key.hash || path[0] === table.key.range);
    const after = () => {
      const updated = applyUpdate(before ?? structuredClone(key), actions, context);
      this.checkIndexKeys(table, updated);
      return updated;
    };
    return {
      table,
      key,
      before,
      condition,
      after,
      paths,
      ...(keyPath
        ? {
            invalid: `One or more parameter values were invalid: Cannot update attribute ${String(keyPath[0])}. This attribute is part of the key`,
          }
        : {}),
    };
  }

  private planDelete(input: ItemInput & { Key: Item }): PlannedWrite {
    const table = this.table(input.TableName);
    const key = this.keyOf(table, input.Key, true);
    const condition = this.conditionOf(input, expressionContext(input));
    return { table, key, before: this.read(table, key), condition, after: () => undefined };
  }

  private planConditionCheck(input: ItemInput & { Key: Item }): PlannedWrite {
    const table = this.table(input.TableName);
    const key = this.keyOf(table, input.Key, true);
    const before = this.read(table, key);
    const condition = this.conditionOf(input, expressionContext(input));
    return { table, key, before, condition, after: () => before };
  }

  private apply(write: PlannedWrite, after: Item | undefined): void {
    const { table, key, before } = write;
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

  private returned(
    returnValues: string | undefined,
    write: PlannedWrite,
    after: Item | undefined,
  ): { Attributes?: Item } {
    let attributes: Item | undefined;
    if (returnValues === 'ALL_OLD') attributes = write.before && structuredClone(write.before);
    else if (returnValues === 'ALL_NEW') attributes = after && structuredClone(after);
    else if (returnValues === 'UPDATED_OLD' || returnValues === 'UPDATED_NEW') {
      // What the update's paths name, changed or not; of a nested path its fragment, not the whole attribute.
      const image = returnValues === 'UPDATED_OLD' ? write.before : after;
      attributes = image && project(image, write.paths ?? []);
    }
    return attributes && Object.keys(attributes).length > 0 ? { Attributes: attributes } : {};
  }

  private single(plan: PlannedWrite, input: ItemInput): { Attributes?: Item } {
    if (plan.invalid) throw validation(plan.invalid);
    if (!this.holds(plan))
      throw conditionFailed(plan.before, input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD');
    const after = parsed(plan.after);
    this.apply(plan, after);
    return this.returned(input.ReturnValues, plan, after);
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
    const context = expressionContext(input);
    const projection = this.projection(input, context);
    assertAllUsed(context);
    const item = this.read(table, this.keyOf(table, input.Key, true));
    if (!item) return {};
    return { Item: projection ? project(item, projection) : structuredClone(item) };
  }

  private projection(
    input: { ProjectionExpression?: string | undefined },
    context: ExpressionContext,
  ): Path[] | undefined {
    const expression = input.ProjectionExpression;
    return expression ? parsed(() => parseProjection(expression, context)) : undefined;
  }

  batchGetItem(input: {
    RequestItems: Record<string, ExpressionInput & { Keys: Item[]; ProjectionExpression?: string }>;
  }): { Responses: Record<string, Item[]>; UnprocessedKeys: Record<string, never> } {
    const responses: Record<string, Item[]> = {};
    let count = 0;
    for (const [tableName, request] of Object.entries(input.RequestItems)) {
      count += request.Keys.length;
      const table = this.table(tableName);
      const keys = request.Keys.map((key) => JSON.stringify(marshall(this.keyOf(table, key, true))));
      if (new Set(keys).size !== keys.length)
        throw validation('Provided list of item keys contains duplicates');
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
      if (entry.ConditionCheck)
        return {
          plan: this.planConditionCheck(entry.ConditionCheck),
          input: entry.ConditionCheck,
          checkOnly: true,
        };
      throw validation('A transaction item needs one of Put, Update, Delete or ConditionCheck');
    });
    const targets = plans.map(({ plan }) => `${plan.table.name}|${JSON.stringify(marshall(plan.key))}`);
    if (new Set(targets).size !== targets.length)
      throw validation('Transaction request cannot include multiple operations on one item');
    // An item whose write cannot be made cancels the transaction with a ValidationError reason (the cancellation
    // reason codes of TransactWriteItems), as a failed condition does with ConditionalCheckFailed.
    const afters: Array<Item | undefined> = [];
    const reasons = plans.map(({ plan, input: item, ...entry }, i) => {
      if (plan.invalid) return { Code: 'ValidationError', Message: plan.invalid };
      if (!this.holds(plan))
        return {
          Code: 'ConditionalCheckFailed',
          Message: 'The conditional request failed',
          ...(item.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && plan.before
            ? { Item: marshall(plan.before) }
            : {}),
        };
      if ('checkOnly' in entry) return { Code: 'None' };
      try {
        afters[i] = plan.after();
        return { Code: 'None' };
      } catch (error) {
        if (error instanceof ExpressionError) return { Code: 'ValidationError', Message: error.message };
        throw error;
      }
    });
    if (reasons.some((reason) => reason.Code !== 'None'))
      throw new TransactionCanceledException({
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: reasons,
      });
    plans.forEach((entry, i) => {
      if (!('checkOnly' in entry)) this.apply(entry.plan, afters[i]);
    });
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
    const hashValue = hashEquality(keyCondition, key, table.keyTypes, context);
    const filter = input.FilterExpression
      ? parsed(() => parseCondition(input.FilterExpression as string, context))
      : undefined;
    const projection = this.projection(input, context);
    assertAllUsed(context);
    const limit = input.Limit;
    if (limit !== undefined && limit < 1) throw validation('Limit must be greater than or equal to 1');
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
    const evaluated = limit !== undefined ? candidates.slice(0, limit) : candidates;
    const matched = filter ? evaluated.filter((item) => evaluate(filter, item, context)) : evaluated;
    const last = evaluated[evaluated.length - 1];
    // A query that stops at its Limit says where it stopped, whether or not anything follows, unless the item it
    // stopped at is the last the key condition can reach (as DynamoDB Local answers).
    const more =
      limit !== undefined &&
      evaluated.length === limit &&
      last !== undefined &&
      (index !== undefined ||
        !endsKeyRange(keyCondition, table.key, last, input.ScanIndexForward !== false, context));
    const lastKey = more
      ? Object.fromEntries(
          [table.key.hash, table.key.range, index?.key.hash, index?.key.range]
            .filter((name): name is string => name !== undefined)
            .map((name) => [name, structuredClone(last[name])]),
        )
      : undefined;
    return {
      ...(input.Select === 'COUNT'
        ? {}
        : { Items: matched.map((item) => (projection ? project(item, projection) : structuredClone(item))) }),
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

/**
 * Whether no item of the table can follow `item` within the key condition: the table has no sort key, or the item's
 * sort key is the inclusive end of the condition's range in the direction read (`<=` or BETWEEN's high end reading
 * forward, `>=` or BETWEEN's low end reading backward). Index sort keys repeat, so an index query never knows.
 */
function endsKeyRange(
  condition: Condition,
  key: KeySchema,
  item: Item,
  forward: boolean,
  context: ExpressionContext,
): boolean {
  if (!key.range) return true;
  for (const part of condition.kind === 'and' ? [condition.left, condition.right] : [condition]) {
    let bounded: Operand;
    let end: Operand;
    if (part.kind === 'between') [bounded, end] = [part.operand, forward ? part.high : part.low];
    else if (part.kind === 'compare' && part.op === (forward ? '<=' : '>='))
      [bounded, end] = [part.left, part.right];
    else continue;
    if (bounded.kind === 'path' && bounded.path[0] === key.range && end.kind === 'value')
      return compareScalars(item[key.range], context.values?.[end.name]) === 0;
  }
  return false;
}

/**
 * The partition a key condition names, the condition checked as DynamoDB checks it: `hash = :v`, alone or ANDed with
 * one condition on the sort key (=, <, <=, >, >=, BETWEEN or begins_with), each value of its key's type.
 */
function hashEquality(
  condition: Condition,
  key: KeySchema,
  keyTypes: ReadonlyMap<string, string>,
  context: ExpressionContext,
): unknown {
  const parts = condition.kind === 'and' ? [condition.left, condition.right] : [condition];
  let hash: unknown;
  let ranges = 0;
  for (const part of parts) {
    const [subject, values] =
      part.kind === 'compare' && part.op !== '<>'
        ? [part.left, [part.right]]
        : part.kind === 'between'
          ? [part.operand, [part.low, part.high]]
          : part.kind === 'function' && part.name === 'begins_with'
            ? [part.args[0], part.args.slice(1)]
            : [undefined, []];
    const name = subject?.kind === 'path' && subject.path.length === 1 ? subject.path[0] : undefined;
    if (name === undefined || values.some((value) => value.kind !== 'value'))
      throw validation(`Invalid operator used in KeyConditionExpression: ${part.kind.toUpperCase()}`);
    if (name !== key.hash && name !== key.range)
      throw validation('Query condition missed key schema element');
    const type = keyTypes.get(name);
    for (const value of values)
      if (type && value.kind === 'value' && typeOf(context.values?.[value.name]) !== type)
        throw validation(
          'One or more parameter values were invalid: Condition parameter type does not match schema type',
        );
    if (name === key.hash && part.kind === 'compare' && part.op === '=' && values[0]?.kind === 'value')
      hash = context.values?.[values[0].name];
    else if (name === key.range) ranges += 1;
    else throw validation('Query key condition not supported');
  }
  if (hash === undefined || ranges > 1)
    throw validation(`Query condition missed key schema element: ${key.hash}`);
  return hash;
}
