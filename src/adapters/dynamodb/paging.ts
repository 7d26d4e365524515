import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';

/** A DynamoDB primary key: a query's LastEvaluatedKey, given back as the next query's ExclusiveStartKey. */
export type Key = Record<string, unknown>;

/** One DynamoDB query's page; the stores turn `nextKey` into the domain's opaque page token. */
export interface KeyPage<T> {
  items: T[];
  nextKey?: Key;
}

/**
 * Reads a query page after page, from `startKey`, until the items end or `limit` of them are read (each page asks
 * for what is left); `nextKey` is where a next read would go on.
 */
export async function queryPages(
  dynamo: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'Limit' | 'ExclusiveStartKey'>,
  options: { limit?: number; startKey?: Key } = {},
): Promise<KeyPage<Record<string, unknown>>> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const items: Array<Record<string, unknown>> = [];
  let nextKey = options.startKey;
  do {
    const page = await dynamo.send(
      new QueryCommand({
        ...input,
        ...(Number.isFinite(limit) ? { Limit: limit - items.length } : {}),
        ExclusiveStartKey: nextKey,
      }),
    );
    items.push(...(page.Items ?? []));
    nextKey = page.LastEvaluatedKey;
  } while (nextKey && items.length < limit);
  return nextKey ? { items, nextKey } : { items };
}
