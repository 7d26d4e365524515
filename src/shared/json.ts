/** Parses JSON, or answers undefined for text that is not JSON (for input that may be anything). */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
