import { isReservedDeviceId } from '../../domain/reserved-ids.js';
import * as z from '../../shared/zod.js';

/** AWS IoT client ids: 1 to 128 bytes of UTF-8, and we refuse control characters. */
export const deviceIdSchema = z.string({ error: 'deviceId is required' }).check(
  z.minLength(1, 'deviceId must not be empty'),
  z.refine((value) => Buffer.byteLength(value, 'utf8') <= 128, 'deviceId must be at most 128 bytes'),
  z.refine(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    (value) => !/[\u0000-\u001f\u007f-\u009f]/.test(value),
    'deviceId must not contain control characters',
  ),
);

/**
 * The id of a device itself (an IoT client, a device's path): not one of the few ids the stores keep their own
 * records under (`$fleet`, `$counts#…`), which a device using them would overwrite. The alert history of the fleet
 * is still listed under `$fleet` (`GET /alerts?deviceId=$fleet`).
 */
export const clientDeviceIdSchema = deviceIdSchema.check(
  z.refine(
    (value) => !isReservedDeviceId(value),
    'deviceId is reserved for the service ($fleet, $fleet#…, $counts#…)',
  ),
);

const MAX_INPUT_BYTES = 262_144;
const MAX_DEPTH = 64;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Finds what makes a decoded JSON value unsafe to handle: prototype keys or absurd nesting. */
export function unsafeStructure(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  // Only objects are stacked: an event is mostly strings and numbers, checked where they stand (ingest's hot path).
  const stack: Array<{ object: object; depth: number }> = [{ object: value, depth: 0 }];
  while (stack.length > 0) {
    const { object, depth } = stack.pop() as { object: object; depth: number };
    if (depth > MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH} levels`;
    for (const key of Object.keys(object)) {
      if (FORBIDDEN_KEYS.has(key)) return `forbidden key "${key}"`;
      const child = (object as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') stack.push({ object: child, depth: depth + 1 });
    }
  }
  return undefined;
}

/** A bounded text form of any input, for keeping rejected input for inspection. */
export function rawText(input: unknown): string {
  if (typeof input === 'string') return input.slice(0, MAX_INPUT_BYTES);
  try {
    return (JSON.stringify(input) ?? String(input)).slice(0, MAX_INPUT_BYTES);
  } catch {
    return '[unserialisable input]';
  }
}

export function describeZodError(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}
