import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { allShards } from '../shards.js';

/**
 * Runs one query per shard of a sharded index, in parallel, and concatenates the items: the fixed cost of reading
 * a sharded sparse index, independent of how many items the table holds.
 */
export async function queryEveryShard(
  dynamo: DynamoDBDocumentClient,
  input: (shard: string) => QueryCommandInput,
): Promise<Record<string, unknown>[]> {
  const pages = await Promise.all(
    allShards().map((shard) => dynamo.send(new QueryCommand(input(String(shard))))),
  );
  return pages.flatMap((page) => page.Items ?? []);
}
