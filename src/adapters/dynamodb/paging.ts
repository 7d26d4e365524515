export type Key = Record<string, unknown>;

export interface PageRequest {
  limit: number;
  startKey?: Key;
}

export interface Page<T> {
  items: T[];
  nextKey?: Key;
}
