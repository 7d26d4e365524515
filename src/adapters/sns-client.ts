import { SNSClient } from '@aws-sdk/client-sns';
import { type AwsClientOptions, clientSettings, type MiddlewareStack } from './aws-client-options.js';
import { injectedSnsError } from './faults.js';

/**
 * The SNS client (endpoint: `options.endpoints.sns`, else AWS_ENDPOINT_URL_SNS when set). Injected SNS faults are
 * middleware before the retry loop, so that a Publish fails the way an outage makes it fail.
 */
export function createSnsClient(options: AwsClientOptions = {}): SNSClient {
  const { common, faults } = clientSettings(options, 'sns');
  const sns = new SNSClient(common);
  if (faults.rates.sns > 0) {
    (sns.middlewareStack as unknown as MiddlewareStack).add(
      (next) => async (args) => {
        if (faults.strikes('sns')) throw injectedSnsError();
        return next(args);
      },
      { step: 'initialize', name: 'iotPresenceInjectedSnsFault' },
    );
  }
  return sns;
}
