import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type AwsClientOptions, clientSettings } from './aws-client-options.js';
import { createDynamoDbClient } from './dynamodb-client.js';
import { createSnsClient } from './sns-client.js';
import { createSqsClient } from './sqs-client.js';

export type { AwsClientOptions } from './aws-client-options.js';

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
  sns: SNSClient;
  sqs: SQSClient;
}

/**
 * All the SDK clients at once (the local runtime and tests). A deployed function builds only the clients it uses,
 * each from its own module (dynamodb-client.ts, sns-client.ts, sqs-client.ts), so that its bundle holds no other.
 * Endpoints are `options.endpoints` where given (the local runtime names its emulators there), else the SDK's
 * standard variables (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL_SQS).
 */
export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  // Resolve the fault injector once so that every client shares it.
  const resolved = { ...options, faults: clientSettings(options).faults };
  return {
    dynamo: createDynamoDbClient(resolved),
    sns: createSnsClient(resolved),
    sqs: createSqsClient(resolved),
  };
}
