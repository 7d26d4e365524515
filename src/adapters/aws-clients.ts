import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { environmentFaults, type FaultInjector, injectedDynamoDbError, injectedSnsError } from './faults.js';

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
  sns: SNSClient;
  sqs: SQSClient;
}

export interface AwsClientOptions {
  region?: string;
  faults?: FaultInjector;
  /** Retry backoff per attempt in ms; the SDK's exponential default when absent (the local replay shortens it). */
  retryBackoffMs?: number;
}

const MAX_ATTEMPTS = 4;

interface MiddlewareStack {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
    options: { step: 'initialize' | 'finalizeRequest'; name: string },
  ): void;
}

/**
 * Builds the SDK clients with explicit options. Endpoints come from the SDK's standard variables
 * (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL_SQS) so the same code runs locally.
 * Injected faults (IOT_PRESENCE_FAULTS) are SDK middleware: DynamoDB faults inside the retry loop, as real
 * throttling would be, SNS faults before it, so that a Publish fails the way an outage makes it fail.
 */
export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const faults = options.faults ?? environmentFaults();
  const retryStrategy =
    options.retryBackoffMs === undefined
      ? undefined
      : new ConfiguredRetryStrategy(MAX_ATTEMPTS, (attempt) => attempt * (options.retryBackoffMs ?? 0));
  const common = { region, maxAttempts: MAX_ATTEMPTS, ...(retryStrategy ? { retryStrategy } : {}) };
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient(common), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    unmarshallOptions: { wrapNumbers: false },
  });
  const sns = new SNSClient(common);
  if (faults.rates.dynamodb > 0) {
    (dynamo.middlewareStack as unknown as MiddlewareStack).add(
      (next) => async (args) => {
        if (faults.strikes('dynamodb')) throw injectedDynamoDbError();
        return next(args);
      },
      { step: 'finalizeRequest', name: 'iotPresenceInjectedDynamoDbFault' },
    );
  }
  if (faults.rates.sns > 0) {
    (sns.middlewareStack as unknown as MiddlewareStack).add(
      (next) => async (args) => {
        if (faults.strikes('sns')) throw injectedSnsError();
        return next(args);
      },
      { step: 'initialize', name: 'iotPresenceInjectedSnsFault' },
    );
  }
  return { dynamo, sns, sqs: new SQSClient(common) };
}
