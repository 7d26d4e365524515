import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
  sns: SNSClient;
  sqs: SQSClient;
}

/**
 * Builds the SDK clients with explicit options. Endpoints come from the SDK's standard variables
 * (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL_SQS) so the same code runs locally.
 */
export function createAwsClients(region = process.env.AWS_REGION ?? 'us-east-1'): AwsClients {
  const common = { region, maxAttempts: 4 };
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient(common), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    unmarshallOptions: { wrapNumbers: false },
  });
  return { dynamo, sns: new SNSClient(common), sqs: new SQSClient(common) };
}
