/**
 * The one definition of a settle check message: what `SqsCheckScheduler` puts on the delay queue and what the
 * settle-check function reads back. A check that is due later than SQS can delay (15 minutes) arrives early and the
 * reconciler simply asks for another.
 */
import { parseJsonOr } from '../shared/json.js';
import * as z from '../shared/zod.js';

/** SQS caps a message delay at 15 minutes. */
const MAX_DELAY_SECONDS = 900;

const checkMessageSchema = z.object({
  deviceId: z.string().check(z.minLength(1)),
  dueAt: z.number(),
  /** When the message was meant to arrive (its delay capped): how the device's record names it. Older: absent. */
  arrivesAt: z.optional(z.number()),
});

export type CheckMessage = z.infer<typeof checkMessageSchema>;

/** The message body of a check for `deviceId`, due at `dueAt`, delivered at `arrivesAt` (epoch ms). */
export function checkMessageBody(deviceId: string, dueAt: number, arrivesAt: number): string {
  const message: CheckMessage = { deviceId, dueAt, arrivesAt };
  return JSON.stringify(message);
}

/** The delay, in whole seconds within what SQS accepts, after which a check due at `dueAt` is delivered. */
export function checkDelaySeconds(dueAt: number, now: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((dueAt - now) / 1000)));
}

/** When a check due at `dueAt`, sent at `now`, arrives: after its delay, never before. */
export function checkArrival(dueAt: number, now: number): number {
  return now + checkDelaySeconds(dueAt, now) * 1000;
}

/** The check a message body holds, or undefined when it is not a check message. */
export function parseCheckMessage(body: string): CheckMessage | undefined {
  const parsed = checkMessageSchema.safeParse(parseJsonOr(body, undefined));
  return parsed.success ? parsed.data : undefined;
}
