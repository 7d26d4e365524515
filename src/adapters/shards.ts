import { fnv1a } from '../shared/fnv1a.js';

/** Sharded index keys spread one status (or one due bucket) over several partitions. */
export const INDEX_SHARDS = 8;

export function shardOf(key: string): number {
  return fnv1a(key) % INDEX_SHARDS;
}

export const allShards = (): number[] => Array.from({ length: INDEX_SHARDS }, (_, i) => i);
