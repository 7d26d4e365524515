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
    this.attach(client, 'iotPresenceInProcessDynamoDb', (command, input) =>
      this.documentCommand(command, normaliseInput(input, normalise)),
    );
  }

  /** Serves the commands of a DynamoDB Streams client. */
  attachStreamsClient(client: unknown): void {
    this.attach(client, 'iotPresenceInProcessDynamoDbStreams', (command, input) => {
      switch (command) {
        case 'DescribeStreamCommand':
          return this.engine.describeStream(input as never);
        case 'GetShardIteratorCommand':
          return this.engine.getShardIterator(input as never);
        case 'GetRecordsCommand':
          return this.engine.getRecords(input as never);
        default:
          throw validation(`${command} is not served by the in-process DynamoDB`);
      }
    });
  }

  private attach(
    client: unknown,
    name: string,
    serve: (command: string, input: Record<string, unknown>) => object,
  ): void {
    (client as PluggableClient).middlewareStack.add(
      (_next, context) => async (args) => {
        const output = serve(context.commandName ?? '', args.input);
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

  private documentCommand(command: string, input: Record<string, unknown>): object {
    const engine = this.engine;
    switch (command) {
      case 'PutItemCommand':
        return engine.putItem(input as never);
      case 'GetItemCommand':
        return engine.getItem(input as never);
      case 'UpdateItemCommand':
        return engine.updateItem(input as never);
      case 'DeleteItemCommand':
        return engine.deleteItem(input as never);
      case 'QueryCommand':
        return engine.query(input as never);
      case 'BatchGetItemCommand':
        return engine.batchGetItem(input as never);
      case 'TransactWriteItemsCommand':
        return engine.transactWriteItems(input as never);
      default:
        throw validation(`${command} is not served by the in-process DynamoDB`);
    }
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
