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
import { InProcessDynamoDb } from './in-process-dynamodb/index.js';
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
  /**
   * DynamoDB served in this process instead of DynamoDB Local (`dynamodb: 'in-process'`): every DynamoDB client
   * built for this deployment must be attached to it (runtime.ts does), since `dynamoEndpoint` leads nowhere.
   */
  inProcessDynamoDb?: InProcessDynamoDb;
  /** Where DynamoDB Local keeps its data (undefined: in memory). */
  dataDir?: string;
  /** Whether the tables were already there, with the data of an earlier run. */
  keptData: boolean;
  /** Another deployment (tables, topic, queues) named after `prefix`, in the same services; its stop() does nothing. */
  provision(prefix: string): Promise<LocalAws>;
  /** What another thread needs to run this deployment (see inProcessDeploymentFrom). */
  transferable(): TransferableDeployment;
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
  /**
   * `local` (default): DynamoDB Local, the jar, over HTTP. `in-process`: the in-process DynamoDB the replay runs on
   * (in-process-dynamodb/), tables from the same definitions, no JVM and no HTTP.
   */
  dynamodb?: 'local' | 'in-process';
}

/** A deployment as a worker thread receives it: the environment and addresses, no services. */
export type TransferableDeployment = Omit<
  LocalAws,
  'inProcessDynamoDb' | 'provision' | 'stop' | 'transferable'
> & {
  tableNames: Record<TableName, string>;
};

/**
 * A deployment whose DynamoDB runs in the process of `deployment` rebuilt in this thread, on a DynamoDB of its own
 * with the same (empty) tables: the replay runs groups of devices in worker threads, each with its own tables, and
 * the SNS/SQS emulator of the main thread, reached over HTTP.
 */
export async function inProcessDeploymentFrom(deployment: TransferableDeployment): Promise<LocalAws> {
  const dynamo = inProcessService(new InProcessDynamoDb());
  const created = await dynamo.createTables(deployment.tableNames);
  const { tableNames: _names, ...rest } = deployment;
  return {
    ...rest,
    eventsStreamArn: String(created.events.streamArn),
    devicesStreamArn: String(created.devices.streamArn),
    ...(dynamo.inProcess ? { inProcessDynamoDb: dynamo.inProcess } : {}),
    provision: () => Promise.reject(new Error('a deployment rebuilt in a worker thread provisions no other')),
    transferable: () => deployment,
    stop: async () => undefined,
  };
}

/** Where a deployment's tables live: DynamoDB Local, or DynamoDB in this process. */
interface DynamoDbService {
  endpoint: string;
  pids: number[];
  dbPath?: string;
  inProcess?: InProcessDynamoDb;
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

function inProcessService(dynamo: InProcessDynamoDb): DynamoDbService {
  return {
    // Never reached: a client attached to the in-process DynamoDB answers before it would send anything.
    endpoint: 'http://in-process-dynamodb.invalid',
    pids: [],
    inProcess: dynamo,
    async createTables(names) {
      const keys = Object.keys(names) as TableName[];
      return Object.fromEntries(
        keys.map((key) => {
          const { streamArn } = dynamo.createTable({ ...tables[key], TableName: names[key] });
          return [key, { streamArn, existed: false }];
        }),
      ) as Record<TableName, { streamArn: string | undefined; existed: boolean }>;
    },
    stop: async () => undefined,
  };
}

/** DynamoDB Local and the SNS/SQS emulator on loopback, with everything serverless.yml would create. */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const [dynamo, fauxqs] = await Promise.all([
    options.dynamodb === 'in-process'
      ? inProcessService(new InProcessDynamoDb())
      : startDynamoDbLocal({
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

/**
 * Creates the tables, topic and queues of one deployment, named after `prefix`, in services already running. Its
 * `provision` makes another deployment in the same services (the replay runs one per group of devices).
 */
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
  const description = {
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
  };
  return {
    ...description,
    ...(dynamo.inProcess ? { inProcessDynamoDb: dynamo.inProcess } : {}),
    provision: (other) => provision(services, other, options, async () => undefined),
    transferable: () => ({ ...description, tableNames: names }),
    stop,
  };
}
