import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  type StreamSpecification,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import type { FauxqsServer } from 'fauxqs';
import tables from '../../../infra/tables.json' with { type: 'json' };
import { type RunningDynamoDbLocal, startDynamoDbLocal } from './dynamodb-local.js';
import { startSnsSqsEmulator } from './sns-sqs-emulator.js';

const REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** The check queue's visibility timeout, as infra/resources.yml sets it: when a failed check is delivered again. */
export const CHECK_VISIBILITY_TIMEOUT_SECONDS = 180;
/** After this many receives a check message goes to the check queue's dead-letter queue (infra/resources.yml). */
const CHECK_MAX_RECEIVE_COUNT = 5;

export interface LocalAws {
  /** Environment for the functions' configuration and the SDK's endpoint variables. */
  env: Record<string, string>;
  dynamoEndpoint: string;
  snsSqsEndpoint: string;
  /** A queue subscribed to the alert topic: what an operator's subscription would receive. */
  alertQueueUrl: string;
  /** The delay queue of the settle checks (its URL is CHECK_QUEUE_URL in `env`). */
  checkQueueArn: string;
  eventsStreamArn: string;
  /** The devices table's stream (NEW_AND_OLD_IMAGES), which the fleet counts are added up from. */
  devicesStreamArn: string;
  pids: number[];
  /** Where DynamoDB Local keeps its data (undefined: in memory). */
  dataDir?: string;
  /** Whether the tables were already there, with the data of an earlier run. */
  keptData: boolean;
  stop(): Promise<void>;
}

type TableName = keyof typeof tables;

/**
 * Creates a table from the same definition serverless.yml deploys (infra/tables.json); a table kept from an earlier
 * run (DynamoDB Local with a data folder) is taken as it is. `existed` says which.
 */
async function ensureTableFromDefinition(client: DynamoDBClient, key: TableName, tableName: string) {
  try {
    return { table: await createTableFromDefinition(client, key, tableName), existed: false };
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
    // A table kept from a version whose definition had no stream yet gets the one it has now.
    const stream = (tables[key] as { StreamSpecification?: StreamSpecification }).StreamSpecification;
    if (stream && !described.Table?.LatestStreamArn) {
      await client.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: stream }));
      const updated = await client.send(new DescribeTableCommand({ TableName: tableName }));
      return { table: updated.Table, existed: true };
    }
    return { table: described.Table, existed: true };
  }
}

/** Creates a table from the same definition serverless.yml deploys (infra/tables.json). */
export async function createTableFromDefinition(client: DynamoDBClient, key: TableName, tableName: string) {
  const definition = tables[key] as Omit<CreateTableCommandInput, 'TableName'> & Record<string, unknown>;
  const { TimeToLiveSpecification: _ttl, ...rest } = definition;
  const input = { ...rest, TableName: tableName, BillingMode: 'PAY_PER_REQUEST' } as CreateTableCommandInput;
  if (input.StreamSpecification)
    input.StreamSpecification = { ...input.StreamSpecification, StreamEnabled: true };
  await client.send(new CreateTableCommand(input));
  const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
  return described.Table;
}

export interface LocalAwsOptions {
  prefix?: string;
  dynamoPort?: number;
  snsSqsPort?: number;
  settleWindowSeconds?: number;
  extraEnv?: Record<string, string>;
  /** Keep DynamoDB Local's data in this folder (default: in memory). */
  dataDir?: string;
}

/** Where a deployment's tables live: DynamoDB Local. */
interface DynamoDbService {
  endpoint: string;
  pids: number[];
  dbPath?: string;
  /** Creates the tables (or finds them kept from an earlier run); returns each one's stream ARN and whether it existed. */
  createTables(
    names: Record<TableName, string>,
  ): Promise<Record<TableName, { streamArn: string | undefined; existed: boolean }>>;
  stop(): Promise<void>;
}

function dynamoDbLocalService(dynamo: RunningDynamoDbLocal): DynamoDbService {
  return {
    endpoint: dynamo.endpoint,
    pids: [dynamo.pid],
    ...(dynamo.dbPath ? { dbPath: dynamo.dbPath } : {}),
    async createTables(names) {
      const client = new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      try {
        const keys = Object.keys(names) as TableName[];
        const created = await Promise.all(
          keys.map((key) => ensureTableFromDefinition(client, key, names[key])),
        );
        return Object.fromEntries(
          keys.map((key, i) => [
            key,
            { streamArn: created[i]?.table?.LatestStreamArn, existed: created[i]?.existed ?? false },
          ]),
        ) as Record<TableName, { streamArn: string | undefined; existed: boolean }>;
      } finally {
        client.destroy();
      }
    },
    stop: () => dynamo.stop(),
  };
}

/** DynamoDB Local and the SNS/SQS emulator on loopback, with everything serverless.yml would create. */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const [dynamo, fauxqs] = await Promise.all([
    startDynamoDbLocal({
      ...(options.dynamoPort !== undefined ? { port: options.dynamoPort } : {}),
      ...(options.dataDir !== undefined ? { dbPath: options.dataDir } : {}),
    }).then(dynamoDbLocalService),
    startSnsSqsEmulator(options.snsSqsPort ?? 0),
  ]);
  try {
    const stopServices = async () => {
      await Promise.all([dynamo.stop(), fauxqs.stop()]);
    };
    return await provision({ dynamo, fauxqs }, options.prefix ?? 'iot-presence-local', options, stopServices);
  } catch (error) {
    await dynamo.stop();
    await fauxqs.stop();
    throw error;
  }
}

/** Creates the tables, topic and queues of one deployment, named after `prefix`, in services already running. */
async function provision(
  services: { dynamo: DynamoDbService; fauxqs: FauxqsServer },
  prefix: string,
  options: Pick<LocalAwsOptions, 'settleWindowSeconds' | 'extraEnv'>,
  stop: () => Promise<void>,
): Promise<LocalAws> {
  const { dynamo, fauxqs } = services;
  const names: Record<TableName, string> = {
    events: `${prefix}-events`,
    devices: `${prefix}-devices`,
    alerts: `${prefix}-alerts`,
    rejected: `${prefix}-rejected`,
    uptime: `${prefix}-uptime`,
  };
  const created = await dynamo.createTables(names);
  const topic = fauxqs.createTopic(`${prefix}-alerts`);
  const alertQueue = fauxqs.createQueue(`${prefix}-alert-inbox`);
  const checkDlq = fauxqs.createQueue(`${prefix}-check-dlq`);
  // The same queue attributes as the deployed CheckQueue.
  const checkQueue = fauxqs.createQueue(`${prefix}-checks`, {
    attributes: {
      VisibilityTimeout: String(CHECK_VISIBILITY_TIMEOUT_SECONDS),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: checkDlq.queueArn,
        maxReceiveCount: CHECK_MAX_RECEIVE_COUNT,
      }),
    },
  });
  const ingestDlq = fauxqs.createQueue(`${prefix}-ingest-dlq`);
  const reconcileDlq = fauxqs.createQueue(`${prefix}-reconcile-dlq`);
  fauxqs.subscribe({ topic: `${prefix}-alerts`, queue: `${prefix}-alert-inbox` });
  const env: Record<string, string> = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SNS: fauxqs.address,
    AWS_ENDPOINT_URL_SQS: fauxqs.address,
    EVENTS_TABLE: names.events,
    DEVICES_TABLE: names.devices,
    ALERTS_TABLE: names.alerts,
    REJECTED_TABLE: names.rejected,
    UPTIME_TABLE: names.uptime,
    ALERT_TOPIC_ARN: topic.topicArn,
    CHECK_QUEUE_URL: checkQueue.queueUrl,
    INGEST_DLQ_URL: ingestDlq.queueUrl,
    RECONCILE_DLQ_URL: reconcileDlq.queueUrl,
    INGEST_PRESENCE_FUNCTION_NAME: 'ingestPresence',
    INGEST_DEVICE_MESSAGE_FUNCTION_NAME: 'ingestDeviceMessage',
    ...(options.settleWindowSeconds ? { SETTLE_WINDOW_SECONDS: String(options.settleWindowSeconds) } : {}),
    CURSOR_SIGNING_KEY: 'local-development-cursor-key',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_DEV: 'true',
    ...options.extraEnv,
  };
  return {
    env,
    dynamoEndpoint: dynamo.endpoint,
    snsSqsEndpoint: fauxqs.address,
    alertQueueUrl: alertQueue.queueUrl,
    checkQueueArn: checkQueue.queueArn,
    eventsStreamArn: String(created.events.streamArn),
    devicesStreamArn: String(created.devices.streamArn),
    pids: dynamo.pids,
    ...(dynamo.dbPath ? { dataDir: dynamo.dbPath } : {}),
    keptData: Object.values(created).some(({ existed }) => existed),
    stop,
  };
}
