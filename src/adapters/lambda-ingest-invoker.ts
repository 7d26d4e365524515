import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { IngestFunction, IngestInvoker } from '../domain/dead-letters.js';
import { type AwsClientOptions, clientSettings } from './aws-client-options.js';

/** The Lambda client (endpoint from AWS_ENDPOINT_URL_LAMBDA when set). */
export function createLambdaClient(options: AwsClientOptions = {}): LambdaClient {
  return new LambdaClient(clientSettings(options).common);
}

/** Invokes the deployed ingest functions asynchronously (InvocationType Event), as the IoT rules do. */
export class LambdaIngestInvoker implements IngestInvoker {
  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionNames: Record<IngestFunction, string>,
  ) {}

  async invoke(target: IngestFunction, event: unknown): Promise<void> {
    await this.lambda.send(
      new InvokeCommand({
        FunctionName: this.functionNames[target],
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
  }
}
