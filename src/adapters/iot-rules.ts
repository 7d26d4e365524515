import { parseJsonOr } from '../shared/json.js';
import { type DeviceMessageTopics, matchTopicLevels } from '../shared/topic-filter.js';

/** An MQTT message as the broker (or a trace line) hands it to the rules engine. */
export interface MqttMessage {
  topic: string;
  payload: Buffer;
  /** clientid() of the publisher; for wills, the client whose will it is. */
  clientId: string | null;
  /** timestamp(): when the rules engine received it. */
  receivedAt: number;
}

export type RuleTarget = 'ingestPresence' | 'ingestDeviceMessage';

export interface RuleInvocation {
  rule: 'PresenceRule' | 'WillRule' | 'BirthRule';
  target: RuleTarget;
  event: Record<string, unknown>;
}

const PRESENCE_TOPIC_FILTER = '$aws/events/presence/+/+';

/**
 * The IoT topic rules of serverless.yml, applied to one message with the same projection their SQL makes:
 *   PresenceRule: SELECT *, topic() AS topic, timestamp() AS receivedAt FROM '$aws/events/presence/+/+'
 *   WillRule/BirthRule: SELECT encode(*, 'base64') AS payloadBase64, clientid() AS clientId, topic() AS topic,
 *                       timestamp() AS receivedAt FROM '<filter>'
 */
export function applyTopicRules(message: MqttMessage, topics: DeviceMessageTopics): RuleInvocation[] {
  const invocations: RuleInvocation[] = [];
  const levels = message.topic.split('/');
  if (matchTopicLevels(PRESENCE_TOPIC_FILTER, levels)) {
    invocations.push({
      rule: 'PresenceRule',
      target: 'ingestPresence',
      event: withRuleFields(jsonObjectOrEmpty(message.payload), message),
    });
  }
  const isWill = matchTopicLevels(topics.willTopicFilter, levels) !== undefined;
  const isBirth = matchTopicLevels(topics.birthTopicFilter, levels) !== undefined;
  if (!isWill && !isBirth) return invocations;
  // Encoded only for the rules that select it: most messages are presence events.
  const deviceMessage = {
    payloadBase64: message.payload.toString('base64'),
    clientId: message.clientId ?? undefined,
    topic: message.topic,
    receivedAt: message.receivedAt,
  };
  if (isWill) invocations.push({ rule: 'WillRule', target: 'ingestDeviceMessage', event: deviceMessage });
  if (isBirth) invocations.push({ rule: 'BirthRule', target: 'ingestDeviceMessage', event: deviceMessage });
  return invocations;
}

/**
 * `SELECT *, topic() AS topic, timestamp() AS receivedAt`: set on the object the payload was just parsed into, not
 * spread into a new one (a spread of a parsed object is built key by key on a slow path, for every message).
 */
function withRuleFields(selected: Record<string, unknown>, message: MqttMessage): Record<string, unknown> {
  selected.topic = message.topic;
  selected.receivedAt = message.receivedAt;
  return selected;
}

/** `SELECT *` of a payload that is not a JSON object contributes no fields (the handler then rejects it). */
function jsonObjectOrEmpty(payload: Buffer): Record<string, unknown> {
  const text = payload.toString('utf8');
  // JSON never parses to undefined: undefined means the payload is not JSON.
  const value = parseJsonOr(text, undefined);
  if (value === undefined) return { payload: text };
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { payload: value };
}
