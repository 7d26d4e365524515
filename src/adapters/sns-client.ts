import { SNSClient } from '@aws-sdk/client-sns';
import { type AwsClientOptions, clientSettings, injectFaults } from './aws-client-options.js';
import { SNS_FAULT } from './faults.js';

/**
 * The SNS client (endpoint: `options.endpoints.sns`, else AWS_ENDPOINT_URL_SNS when set). Injected SNS faults are
 * middleware before the retry loop, so that a Publish fails the way an outage makes it fail.
 */
export function createSnsClient(options: AwsClientOptions = {}): SNSClient {
  const { common, faults } = clientSettings(options, 'sns');
  const sns = new SNSClient(common);
  injectFaults(sns, faults, SNS_FAULT);
  return sns;
}
