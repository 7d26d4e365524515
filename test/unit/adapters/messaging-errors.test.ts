import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { LambdaIngestInvoker } from '../../../src/adapters/lambda-ingest-invoker.js';
import { SnsAlertPublisher } from '../../../src/adapters/sns-alert-publisher.js';
import { SqsCheckScheduler } from '../../../src/adapters/sqs-check-scheduler.js';
import { SqsDeadLetterQueue } from '../../../src/adapters/sqs-dead-letter-queue.js';
import type { Alert } from '../../../src/domain/ports.js';

const NOW = 1_793_520_000_000;
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/1/queue';
const alert: Alert = {
  alertId: 'thing-1/offline/s-1',
  type: 'offline',
  deviceId: 'thing-1',
  sessionIdentifier: 's-1',
  disconnectReason: 'MQTT_KEEP_ALIVE_TIMEOUT',
  since: NOW,
  earliestAt: NOW,
  decidedAt: NOW,
};
const awsError = (name: string) => Object.assign(new Error(`${name} from AWS`), { name });

describe('the SNS alert publisher', () => {
  it.each([['KMSThrottlingException'], ['InternalErrorException'], ['AuthorizationErrorException']])(
    'fails the publish when SNS answers %s, so that the alert stays in its outbox',
    async (name) => {
      // Arrange
      const sns = new SNSClient({ region: 'eu-west-1' });
      mockClient(sns).on(PublishCommand).rejects(awsError(name));

      // Act
      const publishing = new SnsAlertPublisher(sns, 'arn:aws:sns:eu-west-1:1:alerts').publish(alert, NOW);

      // Assert
      await expect(publishing).rejects.toMatchObject({ name });
    },
  );

  it('publishes the alert with its type, device and reason as message attributes', async () => {
    // Arrange
    const sns = new SNSClient({ region: 'eu-west-1' });
    const mock = mockClient(sns).on(PublishCommand).resolves({ MessageId: 'm-1' });

    // Act
    await new SnsAlertPublisher(sns, 'arn:aws:sns:eu-west-1:1:alerts').publish(alert, NOW);

    // Assert
    expect(mock.commandCalls(PublishCommand)[0]?.args[0].input.MessageAttributes).toEqual({
      type: { DataType: 'String', StringValue: 'offline' },
      deviceId: { DataType: 'String', StringValue: 'thing-1' },
      disconnectReason: { DataType: 'String', StringValue: 'MQTT_KEEP_ALIVE_TIMEOUT' },
    });
  });
});

describe('the SQS check scheduler', () => {
  it('fails the schedule when SQS refuses the message, so that no state is written that waits for it', async () => {
    // Arrange
    const sqs = new SQSClient({ region: 'eu-west-1' });
    mockClient(sqs).on(SendMessageCommand).rejects(awsError('KmsThrottled'));

    // Act
    const scheduling = new SqsCheckScheduler(sqs, QUEUE).scheduleCheck('thing-1', NOW + 5_000, NOW);

    // Assert
    await expect(scheduling).rejects.toMatchObject({ name: 'KmsThrottled' });
  });
});

describe('the SQS dead-letter queue', () => {
  it('hands out up to ten parked messages hidden for the time asked, and deletes one by its receipt handle', async () => {
    // Arrange
    const sqs = new SQSClient({ region: 'eu-west-1' });
    const mock = mockClient(sqs);
    mock
      .on(ReceiveMessageCommand)
      .resolves({ Messages: [{ MessageId: 'm-1', Body: '{}', ReceiptHandle: 'r-1' }] });
    mock.on(DeleteMessageCommand).resolves({});
    const queue = new SqsDeadLetterQueue(sqs, QUEUE);

    // Act
    const [message] = await queue.receive(60);
    if (message) await queue.remove(message);

    // Assert
    expect(message).toEqual({ messageId: 'm-1', body: '{}', receiptHandle: 'r-1' });
    expect(mock.commandCalls(ReceiveMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: QUEUE,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 60,
    });
    expect(mock.commandCalls(DeleteMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: QUEUE,
      ReceiptHandle: 'r-1',
    });
  });

  it('fails the redrive when a delete fails, so that the message is handled again rather than lost', async () => {
    // Arrange
    const sqs = new SQSClient({ region: 'eu-west-1' });
    mockClient(sqs).on(DeleteMessageCommand).rejects(awsError('ReceiptHandleIsInvalid'));

    // Act
    const removing = new SqsDeadLetterQueue(sqs, QUEUE).remove({
      messageId: 'm',
      body: '',
      receiptHandle: 'old',
    });

    // Assert
    await expect(removing).rejects.toMatchObject({ name: 'ReceiptHandleIsInvalid' });
  });
});

describe('the Lambda ingest invoker', () => {
  it('invokes the named function asynchronously with the event as its payload, and fails when Lambda refuses', async () => {
    // Arrange
    const lambda = new LambdaClient({ region: 'eu-west-1' });
    const mock = mockClient(lambda);
    mock
      .on(InvokeCommand)
      .resolvesOnce({ StatusCode: 202 })
      .rejectsOnce(awsError('TooManyRequestsException'));
    const invoker = new LambdaIngestInvoker(async () => lambda, {
      ingestPresence: 'prod-presence',
      ingestDeviceMessage: 'prod-messages',
    });

    // Act
    await invoker.invoke('ingestDeviceMessage', { clientId: 'thing-1' });
    const refused = invoker.invoke('ingestPresence', {});

    // Assert
    const input = mock.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ FunctionName: 'prod-messages', InvocationType: 'Event' });
    expect(JSON.parse(Buffer.from(input?.Payload as Uint8Array).toString('utf8'))).toEqual({
      clientId: 'thing-1',
    });
    await expect(refused).rejects.toMatchObject({ name: 'TooManyRequestsException' });
  });
});
