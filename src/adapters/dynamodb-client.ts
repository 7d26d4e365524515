import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type AwsClientOptions, clientSettings, injectFaults } from './aws-client-options.js';
import { DYNAMODB_FAULT } from './faults.js';

/** How the document client translates items to and from DynamoDB's attribute values. */
export const DOCUMENT_TRANSLATION = {
  marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  unmarshallOptions: { wrapNumbers: false },
} as const;

/**
 * The DynamoDB document client. The endpoint is `options.endpoints.dynamodb` when given (the local runtime), else
 * AWS_ENDPOINT_URL_DYNAMODB when set. Injected DynamoDB faults (IOT_PRESENCE_FAULTS) are SDK middleware inside
 * the retry loop, as real throttling would be.
 */
export function createDynamoDbClient(options: AwsClientOptions = {}): DynamoDBDocumentClient {
  const { common, faults } = clientSettings(options, 'dynamodb');
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient(common), DOCUMENT_TRANSLATION);
  injectFaults(dynamo, faults, DYNAMODB_FAULT);
  return dynamo;
}
