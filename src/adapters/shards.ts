/** Sharded index keys spread one status (or one due bucket) over several partitions. */
export const INDEX_SHARDS = 8;

export function shardOf(key: string): number {
  // FNV-1a: cheap, stable across runtimes.
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i += 1) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % INDEX_SHARDS;
}

export const allShards = (): number[] => Array.from({ length: INDEX_SHARDS }, (_, i) => i);
