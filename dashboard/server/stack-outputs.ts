/** Where a deployed stage's HTTP API is: the `HttpApiUrl` output the framework adds to the stack. */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import type { Credentials } from './signed-api.js';

const SERVICE = 'iot-presence';
const API_URL_OUTPUT = 'HttpApiUrl';

export function stackName(stage: string): string {
  return `${SERVICE}-${stage}`;
}

export class StackLookupError extends Error {
  override name = 'StackLookupError';
}

export async function apiUrlFromStack(options: {
  stage: string;
  region: string;
  credentials: Credentials;
  /** Only for tests (a loopback CloudFormation stand-in). */
  endpoint?: string;
}): Promise<string> {
  const name = stackName(options.stage);
  const client = new CloudFormationClient({
    region: options.region,
    credentials: options.credentials,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: 2,
  });
  try {
    const answer = await client
      .send(new DescribeStacksCommand({ StackName: name }))
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        throw new StackLookupError(
          /does not exist/i.test(message)
            ? `there is no stack ${name} in ${options.region}: deploy the stage first, or pass --api <url>`
            : `could not read the stack ${name} in ${options.region}: ${message}`,
        );
      });
    const output = answer.Stacks?.[0]?.Outputs?.find((candidate) => candidate.OutputKey === API_URL_OUTPUT);
    if (!output?.OutputValue)
      throw new StackLookupError(`the stack ${name} in ${options.region} has no ${API_URL_OUTPUT} output`);
    return output.OutputValue;
  } finally {
    client.destroy();
  }
}

/** The region named in an execute-api URL (https://<id>.execute-api.<region>.amazonaws.com), if any. */
export function regionOfApiUrl(apiUrl: string): string | undefined {
  try {
    return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(new URL(apiUrl).hostname)?.[1];
  } catch {
    return undefined;
  }
}
