import { randomUUID } from 'node:crypto';
import { marshall, type marshallOptions, unmarshall, type unmarshallOptions } from '@aws-sdk/util-dynamodb';
import { InProcessDynamoDbEngine, type TableDefinition, validation } from './engine.js';
import type { Item } from './expressions.js';

export type { TableDefinition } from './engine.js';

/** The options lib-dynamodb's document client marshalls and unmarshalls with (src/adapters/dynamodb-client.ts). */
export interface DocumentTranslation {
  marshallOptions: marshallOptions;
  unmarshallOptions: unmarshallOptions;
}

/** The commands a client attached here is served, by the SDK's command name. */
type Commands = Record<string, (input: Record<string, unknown>) => object>;

type Next = (args: { input: Record<string, unknown> }) => Promise<unknown>;

/** The part of an SDK client's middleware stack a plugin adds to. */
interface PluggableClient {
  middlewareStack: {
    remove(name: string): boolean;
    add(
      middleware: (next: Next, context: { commandName?: string }) => Next,
      options: { step: 'initialize'; priority: 'low'; name: string; override: boolean },
    ): void;
  };
}

/**
 * DynamoDB inside this process, for the replay: a client it is attached to (the functions' document client, a
 * streams client) sends its commands here instead of over HTTP. The commands are served by an SDK middleware that
 * runs where the request would be serialised, after every middleware of the initialize step the code added (the
 * request counter among them), so the adapters, their expressions and conditions, and the document client's
 * marshalling all run as they do against DynamoDB; what is skipped is the transport (serialisation, signing, HTTP,
 * retries), and with it the injected DynamoDB faults, which live in the retry loop. Tables come from the same
 * definitions as the deployed ones (infra/tables.json).
 */
export class InProcessDynamoDb {
  readonly engine: InProcessDynamoDbEngine;

  constructor(clock: () => number = Date.now) {
    this.engine = new InProcessDynamoDbEngine(clock);
  }

  createTable(definition: TableDefinition): { streamArn?: string } {
    return this.engine.createTable(definition);
  }

  /** Serves the commands of a lib-dynamodb document client, translated as that client translates them. */
  attachDocumentClient(client: unknown, translation: DocumentTranslation): void {
    const normalise = (value: unknown) =>
      value === undefined
        ? undefined
        : unmarshall(
            marshall(value as Record<string, unknown>, translation.marshallOptions),
            translation.unmarshallOptions,
          );
    const engine = this.engine;
    const commands: Commands = {
      PutItemCommand: (input) => engine.putItem(input as never),
      GetItemCommand: (input) => engine.getItem(input as never),
      UpdateItemCommand: (input) => engine.updateItem(input as never),
      DeleteItemCommand: (input) => engine.deleteItem(input as never),
      QueryCommand: (input) => engine.query(input as never),
      BatchGetItemCommand: (input) => engine.batchGetItem(input as never),
      TransactWriteItemsCommand: (input) => engine.transactWriteItems(input as never),
    };
    this.attach(client, 'iotPresenceInProcessDynamoDb', commands, (input) =>
      normaliseInput(input, normalise),
    );
  }

  /** Serves the commands of a DynamoDB Streams client. */
  attachStreamsClient(client: unknown): void {
    const engine = this.engine;
    this.attach(client, 'iotPresenceInProcessDynamoDbStreams', {
      DescribeStreamCommand: (input) => engine.describeStream(input as never),
      GetShardIteratorCommand: (input) => engine.getShardIterator(input as never),
      GetRecordsCommand: (input) => engine.getRecords(input as never),
    });
  }

  private attach(
    client: unknown,
    name: string,
    commands: Commands,
    translate: (input: Record<string, unknown>) => Record<string, unknown> = (input) => input,
  ): void {
    (client as PluggableClient).middlewareStack.add(
      (_next, context) => async (args) => {
        const command = commands[context.commandName ?? ''];
        if (!command) throw validation(`${context.commandName} is not served by the in-process DynamoDB`);
        const output = command(translate(args.input));
        return {
          output: {
            ...output,
            $metadata: { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
          },
          response: undefined,
        };
      },
      { step: 'initialize', priority: 'low', name, override: true },
    );
    // The SDK's logger middleware filters every input and output for its logger, a no-op here: nothing to log.
    (client as PluggableClient).middlewareStack.remove('loggerMiddleware');
  }
}

/** The document input with every item, key and value as the document client would send it (undefined removed). */
function normaliseInput(
  input: Record<string, unknown>,
  normalise: (value: unknown) => Item | undefined,
): Record<string, unknown> {
  const one = (entry: Record<string, unknown> | undefined) => {
    if (!entry) return entry;
    const copy: Record<string, unknown> = { ...entry };
    for (const field of ['Item', 'Key', 'ExpressionAttributeValues', 'ExclusiveStartKey'])
      if (copy[field] !== undefined) copy[field] = normalise(copy[field]);
    return copy;
  };
  const normalised = one(input) as Record<string, unknown>;
  if (Array.isArray(input.TransactItems))
    normalised.TransactItems = (input.TransactItems as Array<Record<string, Record<string, unknown>>>).map(
      (entry) => Object.fromEntries(Object.entries(entry).map(([kind, operation]) => [kind, one(operation)])),
    );
  if (input.RequestItems)
    normalised.RequestItems = Object.fromEntries(
      Object.entries(input.RequestItems as Record<string, { Keys: unknown[] }>).map(([table, request]) => [
        table,
        { ...request, Keys: request.Keys.map(normalise) },
      ]),
    );
  return normalised;
}
