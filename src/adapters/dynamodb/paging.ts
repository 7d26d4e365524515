/** A DynamoDB primary key: a query's LastEvaluatedKey, given back as the next query's ExclusiveStartKey. */
export type Key = Record<string, unknown>;

/** One DynamoDB query's page; the stores turn `nextKey` into the domain's opaque page token. */
export interface KeyPage<T> {
  items: T[];
  nextKey?: Key;
}
