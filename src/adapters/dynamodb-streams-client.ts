import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { type AwsClientOptions, clientSettings } from './aws-client-options.js';

/** The DynamoDB Streams client (endpoint from AWS_ENDPOINT_URL_DYNAMODB_STREAMS when set). */
export function createDynamoDbStreamsClient(options: AwsClientOptions = {}): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient(clientSettings(options).common);
}
