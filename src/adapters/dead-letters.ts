import { parseJsonOr } from '../shared/json.js';
import type { DeviceMessageTopics } from '../shared/topic-filter.js';
import * as z from '../shared/zod.js';
import { applyTopicRules, type RuleInvocation, type RuleTarget } from './iot-rules.js';

/** What Lambda's on-failure destination writes for a failed asynchronous invocation. */
const lambdaFailureRecordSchema = z.object({
  requestContext: z.object({ functionArn: z.string() }),
  requestPayload: z.unknown(),
});

/** What an IoT rule's error action writes when it could not deliver a message. */
const ruleErrorRecordSchema = z.object({
  ruleName: z.string(),
  topic: z.string(),
  clientId: z.optional(z.string()),
  base64OriginalPayload: z.string(),
});

export interface RedriveTarget {
  target: RuleTarget;
  event: unknown;
}

/**
 * Turns one dead-letter message back into the invocation that failed. A rule error carries the original MQTT
 * payload, so the rule's projection is applied again (its receive time is lost: the redrive time stands in).
 */
export function redriveTargets(
  body: string,
  topics: DeviceMessageTopics,
  now: number,
): RedriveTarget[] | undefined {
  const parsed = parseJsonOr(body, undefined);
  if (parsed === undefined) return undefined;
  const failure = lambdaFailureRecordSchema.safeParse(parsed);
  if (failure.success) {
    const arn = failure.data.requestContext.functionArn;
    const target: RuleTarget | undefined = /ingestPresence|ingest-presence/i.test(arn)
      ? 'ingestPresence'
      : /ingestDeviceMessage|ingest-device-message/i.test(arn)
        ? 'ingestDeviceMessage'
        : undefined;
    return target ? [{ target, event: failure.data.requestPayload }] : undefined;
  }
  const ruleError = ruleErrorRecordSchema.safeParse(parsed);
  if (ruleError.success) {
    const invocations: RuleInvocation[] = applyTopicRules(
      {
        topic: ruleError.data.topic,
        payload: Buffer.from(ruleError.data.base64OriginalPayload, 'base64'),
        clientId: ruleError.data.clientId ?? null,
        receivedAt: now,
      },
      topics,
    );
    return invocations.map(({ target, event }) => ({ target, event }));
  }
  return undefined;
}
