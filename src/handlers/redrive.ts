import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { systemClock } from '../adapters/clock.js';
import { redriveTargets } from '../adapters/dead-letters.js';
import type { RuleTarget } from '../adapters/iot-rules.js';
import { logger } from '../adapters/observability.js';
import { createSqsClient } from '../adapters/sqs-client.js';
import type { AppPorts } from '../composition-root.js';
import { productionConfig } from '../config.js';
import * as z from '../shared/zod.js';
import { lambdaShell } from './shared/lambda-shell.js';

export interface RedrivePorts extends Pick<AppPorts, 'clock' | 'config'> {
  sqs: SQSClient;
  queueUrl: string;
  /** Invokes an ingest function asynchronously, as the IoT rule did. */
  invoke(target: RuleTarget, event: unknown): Promise<void>;
}

export interface RedriveResult {
  redriven: number;
  unreadable: number;
}

/**
 * Invoked by hand after an incident: feeds the messages parked in IngestDlq back through the ingest functions.
 * A message is deleted only once its invocation was accepted; one it cannot read stays for a person to look at.
 */
export function buildRedriveHandler(ports: RedrivePorts, maxMessages = 1000) {
  return lambdaShell(async (): Promise<RedriveResult> => {
    const result: RedriveResult = { redriven: 0, unreadable: 0 };
    const topics = {
      willTopicFilter: ports.config.WILL_TOPIC_FILTER,
      birthTopicFilter: ports.config.BIRTH_TOPIC_FILTER,
    };
    while (result.redriven + result.unreadable < maxMessages) {
      const { Messages = [] } = await ports.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: ports.queueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 60,
        }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        const targets = redriveTargets(message.Body ?? '', topics, ports.clock.now());
        if (!targets) {
          result.unreadable += 1;
          logger.warn('dead letter not understood; left in the queue', { messageId: message.MessageId });
          continue;
        }
        for (const { target, event } of targets) await ports.invoke(target, event);
        await ports.sqs.send(
          new DeleteMessageCommand({ QueueUrl: ports.queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
        result.redriven += 1;
      }
      if (result.unreadable > 0 && result.redriven === 0) break; // only unreadable ones left: stop
    }
    logger.info('redrive finished', { ...result });
    return result;
  });
}

const redriveEnvSchema = z.object({
  INGEST_DLQ_URL: z.url(),
  INGEST_PRESENCE_FUNCTION_NAME: z.string().check(z.minLength(1)),
  INGEST_DEVICE_MESSAGE_FUNCTION_NAME: z.string().check(z.minLength(1)),
});

function productionRedrivePorts(): RedrivePorts {
  const config = productionConfig();
  const env = redriveEnvSchema.parse({
    ...process.env,
    INGEST_DLQ_URL: process.env.INGEST_DLQ_URL ?? config.INGEST_DLQ_URL,
  });
  const lambda = new LambdaClient({ region: process.env.AWS_REGION, maxAttempts: 4 });
  const functionNames: Record<RuleTarget, string> = {
    ingestPresence: env.INGEST_PRESENCE_FUNCTION_NAME,
    ingestDeviceMessage: env.INGEST_DEVICE_MESSAGE_FUNCTION_NAME,
  };
  return {
    config,
    clock: systemClock,
    sqs: createSqsClient(),
    queueUrl: env.INGEST_DLQ_URL,
    invoke: async (target, event) => {
      await lambda.send(
        new InvokeCommand({
          FunctionName: functionNames[target],
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(event)),
        }),
      );
    },
  };
}

export const handler = buildRedriveHandler(productionRedrivePorts());
