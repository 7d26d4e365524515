/** The `expiresAt` attribute the tables' TTL reads: epoch seconds, `ttlDays` after `fromMs`. */
export function ttlExpiry(fromMs: number, ttlDays: number): number {
  return Math.floor(fromMs / 1000) + ttlDays * 86_400;
}
