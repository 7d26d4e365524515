/** Parses JSON, or answers `fallback` for text that is not JSON (for input that may be anything). */
export function parseJsonOr<T>(text: string, fallback: T): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}
