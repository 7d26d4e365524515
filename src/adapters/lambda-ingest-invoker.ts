import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { IngestFunction, IngestInvoker } from '../domain/dead-letters.js';
import { type AwsClientOptions, clientSettings } from './aws-client-options.js';

/**
 * The Lambda SDK, loaded on the first redriven ingest event: only the ingest-DLQ path needs it, and its client is
 * the redrive bundle's largest (112 KB of 880), which every cold start evaluated at import.
 */
const lambdaSdk = () => import('@aws-sdk/client-lambda');

/** A Lambda client, created when first asked for. */
export type LambdaClientSource = () => Promise<LambdaClient>;

/** The Lambda client (endpoint from AWS_ENDPOINT_URL_LAMBDA when set), created on first use. */
export function createLambdaClient(options: AwsClientOptions = {}): LambdaClientSource {
  let client: Promise<LambdaClient> | undefined;
  return () => {
    client ??= lambdaSdk().then(({ LambdaClient }) => new LambdaClient(clientSettings(options).common));
    return client;
  };
}

/** Invokes the deployed ingest functions asynchronously (InvocationType Event), as the IoT rules do. */
export class LambdaIngestInvoker implements IngestInvoker {
  constructor(
    private readonly lambda: LambdaClientSource,
    private readonly functionNames: Record<IngestFunction, string>,
  ) {}

  async invoke(target: IngestFunction, event: unknown): Promise<void> {
    const [client, { InvokeCommand }] = await Promise.all([this.lambda(), lambdaSdk()]);
    await client.send(
      new InvokeCommand({
        FunctionName: this.functionNames[target],
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
  }
}
