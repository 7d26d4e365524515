import { SQSClient } from '@aws-sdk/client-sqs';
import { type AwsClientOptions, clientSettings } from './aws-client-options.js';

/** The SQS client (endpoint: `options.endpoints.sqs`, else AWS_ENDPOINT_URL_SQS when set). */
export function createSqsClient(options: AwsClientOptions = {}): SQSClient {
  return new SQSClient(clientSettings(options, 'sqs').common);
}
