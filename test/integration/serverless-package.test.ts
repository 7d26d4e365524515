import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CfnTemplate,
  evaluateCondition,
  type PackagedService,
  packagedService,
  packageTimeoutMs,
  packagingEnvironment,
  packagingFailure,
  projectRoot,
  property,
  removePackagedServices,
  resource,
  resourcesOfType,
} from '../fixtures/serverless-template.js';

type TableSchema = Record<string, unknown> & {
  AttributeDefinitions: unknown[];
  KeySchema: unknown[];
  StreamSpecification?: { StreamViewType: string };
};

interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

const tableLogicalIds = {
  events: 'EventsTable',
  devices: 'DevicesTable',
  alerts: 'AlertsTable',
  rejected: 'RejectedTable',
  uptime: 'UptimeTable',
} as const;

const functionHandlers: Record<string, string> = {
  IngestPresenceLambdaFunction: 'src/functions/ingestPresence.handler',
  IngestDeviceMessageLambdaFunction: 'src/functions/ingestDeviceMessage.handler',
  ReconcileEventsLambdaFunction: 'src/functions/reconcileEvents.handler',
  CountFleetLambdaFunction: 'src/functions/countFleet.handler',
  SettleCheckLambdaFunction: 'src/functions/settleCheck.handler',
  SweepLambdaFunction: 'src/functions/sweep.handler',
  GetDeviceLambdaFunction: 'src/functions/getDevice.handler',
  ListDevicesLambdaFunction: 'src/functions/listDevices.handler',
  ListDeviceEventsLambdaFunction: 'src/functions/listDeviceEvents.handler',
  DeviceUptimeLambdaFunction: 'src/functions/deviceUptime.handler',
  ListAlertsLambdaFunction: 'src/functions/listAlerts.handler',
  FleetLambdaFunction: 'src/functions/fleet.handler',
  ListIncidentsLambdaFunction: 'src/functions/listIncidents.handler',
  GetIncidentLambdaFunction: 'src/functions/getIncident.handler',
  HealthLambdaFunction: 'src/functions/health.handler',
  RedriveLambdaFunction: 'src/functions/redrive.handler',
};

const presenceSql = "SELECT *, topic() AS topic, timestamp() AS receivedAt FROM '$aws/events/presence/+/+'";
const deviceMessageSql = (filter: string) =>
  `SELECT encode(*, 'base64') AS payloadBase64, clientid() AS clientId, topic() AS topic, timestamp() AS receivedAt FROM '${filter}'`;

interface AlarmProperties {
  AlarmName: string;
  AlarmActions: unknown[];
  Namespace?: string;
  MetricName?: string;
  Dimensions?: Array<{ Name: string; Value: unknown }>;
  Metrics?: Array<{
    MetricStat?: { Metric: { MetricName: string; Dimensions: Array<{ Name: string; Value: unknown }> } };
  }>;
  ComparisonOperator: string;
  Threshold: number;
}

/** The alarms of the template whose metric (or one of whose metrics) has the given name. */
function alarmsOn(template: CfnTemplate, metricName: string): AlarmProperties[] {
  return Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'))
    .map((alarm) => alarm.Properties as unknown as AlarmProperties)
    .filter(
      (alarm) =>
        alarm.MetricName === metricName ||
        (alarm.Metrics ?? []).some((metric) => metric.MetricStat?.Metric.MetricName === metricName),
    );
}

/** The value of one dimension of an alarm (of its first metric, for a metric-math alarm). */
function dimension(alarm: AlarmProperties, name: string): unknown {
  const dimensions =
    alarm.Dimensions ?? alarm.Metrics?.find((m) => m.MetricStat)?.MetricStat?.Metric.Dimensions;
  return dimensions?.find((d) => d.Name === name)?.Value;
}

/** Every metric name the functions emit (`metrics.addMetric('Name', ...)` in src/). */
async function emittedMetricNames(): Promise<string[]> {
  const files = (await readdir(join(projectRoot, 'src'), { recursive: true })).filter((file) =>
    file.endsWith('.ts'),
  );
  const names = new Set<string>();
  for (const file of files) {
    const source = await readFile(join(projectRoot, 'src', file), 'utf8');
    for (const match of source.matchAll(/addMetric\(\s*'([A-Za-z]+)'/g)) names.add(match[1] as string);
    for (const match of source.matchAll(/addMetric\(\s*\w+ === '\w+' \? '([A-Za-z]+)' : '([A-Za-z]+)'/g)) {
      names.add(match[1] as string);
      names.add(match[2] as string);
    }
  }
  return [...names].sort();
}

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Every statement of every IAM policy in the template, with the logical id that holds it. */
function policyStatements(template: CfnTemplate): Array<{ owner: string; statement: PolicyStatement }> {
  const found: Array<{ owner: string; statement: PolicyStatement }> = [];
  for (const [logicalId, res] of Object.entries(template.Resources)) {
    const properties = res.Properties ?? {};
    const documents: unknown[] = [];
    if (res.Type === 'AWS::IAM::Role') {
      for (const policy of (properties.Policies as Array<{ PolicyDocument: unknown }> | undefined) ?? []) {
        documents.push(policy.PolicyDocument);
      }
    } else if (res.Type === 'AWS::IAM::Policy' || res.Type === 'AWS::IAM::ManagedPolicy') {
      documents.push(properties.PolicyDocument);
    }
    for (const document of documents) {
      for (const statement of asArray(
        (document as { Statement: PolicyStatement | PolicyStatement[] }).Statement,
      )) {
        found.push({ owner: logicalId, statement });
      }
    }
  }
  return found;
}

describe('serverless package (stage ci, offline, no AWS credentials)', () => {
  let packaged: PackagedService;
  let template: CfnTemplate;
  let tables: Record<keyof typeof tableLogicalIds, TableSchema>;

  beforeAll(async () => {
    // Arrange: package the whole service once, and read the table schemas it must follow.
    packaged = await packagedService('ci');
    template = packaged.template;
    tables = JSON.parse(await readFile(join(projectRoot, 'infra/tables.json'), 'utf8'));
    console.info(`serverless package took ${(packaged.durationMs / 1000).toFixed(1)} s`);
  }, packageTimeoutMs + 10_000);

  afterAll(async () => {
    await removePackagedServices();
  });

  describe('functions', () => {
    it('defines every function with its fixed handler, on nodejs24.x and arm64', () => {
      // Act
      const functions = resourcesOfType(template, 'AWS::Lambda::Function');

      // Assert
      const handlers = Object.fromEntries(
        Object.entries(functions).map(([id, fn]) => [id, fn.Properties?.Handler]),
      );
      expect(handlers).toEqual(functionHandlers);
      for (const fn of Object.values(functions)) {
        expect(fn.Properties?.Runtime).toBe('nodejs24.x');
        expect(fn.Properties?.Architectures).toEqual(['arm64']);
      }
    });

    it('bundles for the Node.js major version of the runtime (esbuild target)', async () => {
      // Arrange
      const config = await readFile(join(projectRoot, 'serverless.yml'), 'utf8');
      const runtimes = Object.values(resourcesOfType(template, 'AWS::Lambda::Function')).map(
        (fn) => fn.Properties?.Runtime,
      );

      // Act
      const targets = [...config.matchAll(/^\s+target:\s*(\S+)\s*$/gm)].map((match) => match[1]);

      // Assert
      expect(new Set(runtimes)).toEqual(new Set(['nodejs24.x']));
      expect(targets).toEqual(['node24']);
    });

    it('gives every function its own dedicated role instead of one shared default role', () => {
      // Act
      const functions = resourcesOfType(template, 'AWS::Lambda::Function');

      // Assert
      expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
      for (const fn of Object.values(functions)) {
        const [roleId] = property<{ 'Fn::GetAtt': [string, string] }>(fn, 'Role')['Fn::GetAtt'];
        expect(resource(template, roleId).Type).toBe('AWS::IAM::Role');
      }
    });

    it('hands the table names, topic and queue to every function through its environment', () => {
      // Act
      const functions = resourcesOfType(template, 'AWS::Lambda::Function');

      // Assert
      for (const fn of Object.values(functions)) {
        const variables = property<{ Variables: Record<string, unknown> }>(fn, 'Environment').Variables;
        expect(variables).toMatchObject({
          EVENTS_TABLE: { Ref: 'EventsTable' },
          DEVICES_TABLE: { Ref: 'DevicesTable' },
          ALERTS_TABLE: { Ref: 'AlertsTable' },
          REJECTED_TABLE: { Ref: 'RejectedTable' },
          UPTIME_TABLE: { Ref: 'UptimeTable' },
          ALERT_TOPIC_ARN: { Ref: 'AlertTopic' },
          CHECK_QUEUE_URL: { Ref: 'CheckQueue' },
          SETTLE_WINDOW_SECONDS: '120',
          ALERT_ON: 'abrupt',
          WILL_TOPIC_FILTER: 'devices/+/will',
          BIRTH_TOPIC_FILTER: 'devices/+/birth',
          EVENT_TTL_DAYS: '30',
        });
        expect(typeof variables.CURSOR_SIGNING_KEY).toBe('string');
      }
    });

    it('retries failed asynchronous ingest invocations twice, then parks them in the ingest DLQ', () => {
      for (const name of ['IngestPresence', 'IngestDeviceMessage']) {
        // Act
        const config = resource(template, `${name}LambdaEvConf`);

        // Assert
        expect(config.Properties).toMatchObject({
          FunctionName: { Ref: `${name}LambdaFunction` },
          MaximumRetryAttempts: 2,
          DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['IngestDlq', 'Arn'] } } },
        });
      }
    });
  });

  describe('DynamoDB tables', () => {
    it('creates the four tables on demand with the key schemas and indexes of infra/tables.json', () => {
      for (const [name, logicalId] of Object.entries(tableLogicalIds) as Array<
        [keyof typeof tableLogicalIds, string]
      >) {
        // Arrange
        const schema = tables[name];

        // Act
        const properties = resource(template, logicalId).Properties ?? {};

        // Assert
        expect(properties.TableName).toBe(`iot-presence-ci-${name}`);
        expect(properties.BillingMode).toBe('PAY_PER_REQUEST');
        expect(properties.KeySchema).toEqual(schema.KeySchema);
        expect(properties.AttributeDefinitions).toEqual(schema.AttributeDefinitions);
        expect(properties.GlobalSecondaryIndexes).toEqual(schema.GlobalSecondaryIndexes);
        expect(properties.LocalSecondaryIndexes).toEqual(schema.LocalSecondaryIndexes);
        expect(properties.TimeToLiveSpecification).toEqual(schema.TimeToLiveSpecification);
        expect(properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      }
    });

    it('streams new images of the events table, new and old images of the devices table (fleet counts), and no other table', () => {
      // Act
      const streams = Object.fromEntries(
        Object.values(tableLogicalIds).map((id) => [
          id,
          resource(template, id).Properties?.StreamSpecification,
        ]),
      );

      // Assert
      expect(streams).toEqual({
        EventsTable: { StreamViewType: 'NEW_IMAGE' },
        DevicesTable: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        AlertsTable: undefined,
        RejectedTable: undefined,
        UptimeTable: undefined,
      });
      expect(tables.events.StreamSpecification?.StreamViewType).toBe('NEW_IMAGE');
      expect(tables.devices.StreamSpecification?.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
    });
  });

  describe('IoT topic rules', () => {
    it.each([
      ['PresenceRule', presenceSql, 'IngestPresenceLambdaFunction'],
      ['WillRule', deviceMessageSql('devices/+/will'), 'IngestDeviceMessageLambdaFunction'],
      ['BirthRule', deviceMessageSql('devices/+/birth'), 'IngestDeviceMessageLambdaFunction'],
    ])('routes %s to its ingest function and sends failures to the ingest DLQ', (ruleId, sql, functionId) => {
      // Act
      const rule = resource(template, ruleId);
      const payload = rule.Properties?.TopicRulePayload as Record<string, unknown>;

      // Assert
      expect(rule.Type).toBe('AWS::IoT::TopicRule');
      expect(payload.Sql).toBe(sql);
      expect(payload.AwsIotSqlVersion).toBe('2016-03-23');
      expect(payload.RuleDisabled).toBe(false);
      expect(payload.Actions).toEqual([{ Lambda: { FunctionArn: { 'Fn::GetAtt': [functionId, 'Arn'] } } }]);
      expect(payload.ErrorAction).toMatchObject({ Sqs: { QueueUrl: { Ref: 'IngestDlq' } } });
    });

    it('lets AWS IoT invoke the ingest functions only from the stack’s own rules', () => {
      // Act
      const iotPermissions = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission')).filter(
        (permission) => permission.Properties?.Principal === 'iot.amazonaws.com',
      );

      // Assert
      const sourceRules = iotPermissions.map(
        (permission) =>
          property<{ 'Fn::GetAtt': [string, string] }>(permission, 'SourceArn')['Fn::GetAtt'][0],
      );
      expect(sourceRules.sort()).toEqual(['BirthRule', 'PresenceRule', 'WillRule']);
    });
  });

  describe('HTTP API', () => {
    it('exposes the eight read routes and the health route', () => {
      // Act
      const routeKeys = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route')).map(
        (route) => route.Properties?.RouteKey,
      );

      // Assert
      expect(routeKeys.sort()).toEqual([
        'GET /alerts',
        'GET /devices',
        'GET /devices/{deviceId}',
        'GET /devices/{deviceId}/events',
        'GET /devices/{deviceId}/uptime',
        'GET /fleet',
        'GET /health',
        'GET /incidents',
        'GET /incidents/{incidentId}',
      ]);
    });

    it('requires IAM (SigV4) authorisation on every route, leaving none unauthenticated', () => {
      // Act
      const routes = Object.values(resourcesOfType(template, 'AWS::ApiGatewayV2::Route'));

      // Assert
      expect(routes.length).toBeGreaterThan(0);
      for (const route of routes) {
        expect(route.Properties?.AuthorizationType).toBe('AWS_IAM');
      }
    });
  });

  describe('IAM', () => {
    it('never grants a DynamoDB, SNS or SQS action on every resource ("*")', () => {
      // Act
      const statements = policyStatements(template);
      const offending = statements.filter(({ statement }) => {
        const dataActions = asArray(statement.Action).filter((action) => /^(dynamodb|sns|sqs):/.test(action));
        const resources = asArray(statement.Resource as unknown);
        return (
          dataActions.length > 0 && resources.some((res) => typeof res === 'string' && res.includes('*'))
        );
      });

      // Assert
      expect(statements.length).toBeGreaterThan(0);
      expect(offending).toEqual([]);
    });
    it('grants dynamodb:ListStreams to no one: nothing lists streams, and the action only accepts "*"', () => {
      // Act
      const listStreams = policyStatements(template).filter(({ statement }) =>
        asArray(statement.Action).includes('dynamodb:ListStreams'),
      );

      // Assert
      expect(listStreams).toEqual([]);
    });

    it('lets redrive drain both dead-letter queues, read the events stream and reconcile, naming each resource', () => {
      // Act
      const redrive = resource(template, 'RedriveLambdaFunction');
      const variables = property<{ Variables: Record<string, unknown> }>(redrive, 'Environment').Variables;
      const statements = policyStatements(template)
        .filter(({ owner }) => owner === 'RedriveRole')
        .map(({ statement }) => statement);
      const grantsOn = (action: string) =>
        statements
          .filter((statement) => asArray(statement.Action).includes(action))
          .flatMap((statement) => asArray(statement.Resource as unknown));

      // Assert
      expect(variables).toMatchObject({
        INGEST_DLQ_URL: { Ref: 'IngestDlq' },
        RECONCILE_DLQ_URL: { Ref: 'ReconcileDlq' },
      });
      for (const action of [
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
      ]) {
        expect(grantsOn(action), action).toEqual(
          expect.arrayContaining([
            { 'Fn::GetAtt': ['IngestDlq', 'Arn'] },
            { 'Fn::GetAtt': ['ReconcileDlq', 'Arn'] },
          ]),
        );
      }
      for (const action of ['dynamodb:DescribeStream', 'dynamodb:GetShardIterator', 'dynamodb:GetRecords']) {
        expect(grantsOn(action), action).toEqual([{ 'Fn::GetAtt': ['EventsTable', 'StreamArn'] }]);
      }
      for (const action of ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']) {
        expect(grantsOn(action), action).toEqual(
          expect.arrayContaining([
            { 'Fn::GetAtt': ['DevicesTable', 'Arn'] },
            { 'Fn::GetAtt': ['AlertsTable', 'Arn'] },
          ]),
        );
      }
      expect(grantsOn('sns:Publish')).toEqual([{ Ref: 'AlertTopic' }]);
      expect(grantsOn('sqs:SendMessage')).toEqual([{ 'Fn::GetAtt': ['CheckQueue', 'Arn'] }]);
      expect(statements.flatMap((statement) => asArray(statement.Resource as unknown))).not.toContain('*');
    });

    it('lets every function that reconciles query the events table, read only, and no other function read it', () => {
      // Act
      const grants = policyStatements(template)
        .filter(({ statement }) =>
          asArray(statement.Resource as unknown).some(
            (resource) =>
              JSON.stringify(resource) === JSON.stringify({ 'Fn::GetAtt': ['EventsTable', 'Arn'] }),
          ),
        )
        .map(({ owner, statement }) => ({ owner, actions: asArray(statement.Action) }));
      const reconciling = ['ReconcileEventsRole', 'RedriveRole', 'SettleCheckRole', 'SweepRole'];

      // Assert
      expect(
        grants
          .filter((grant) => reconciling.includes(grant.owner))
          .sort((a, b) => a.owner.localeCompare(b.owner)),
      ).toEqual(reconciling.map((owner) => ({ owner, actions: ['dynamodb:Query'] })));
      expect(grants.map((grant) => grant.owner).sort()).toEqual(
        ['ApiReadRole', 'IngestRole', ...reconciling].sort(),
      );
    });
  });

  describe('event sources', () => {
    /** The event source mapping of a table's stream, and the filter patterns it applies. */
    const streamMappingOf = (table: string) => {
      const mapping = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).find(
        (candidate) =>
          JSON.stringify(candidate.Properties?.EventSourceArn) ===
          JSON.stringify({ 'Fn::GetAtt': [table, 'StreamArn'] }),
      );
      const filters = property<{ Filters: Array<{ Pattern: string }> }>(mapping, 'FilterCriteria').Filters;
      return {
        properties: mapping?.Properties,
        patterns: filters.map((filter) => JSON.parse(filter.Pattern)),
      };
    };

    it('feeds inserted events (except failed connects) from the events stream to reconcileEvents', () => {
      // Act
      const { properties, patterns } = streamMappingOf('EventsTable');

      // Assert
      expect(properties).toMatchObject({
        FunctionName: { 'Fn::GetAtt': ['ReconcileEventsLambdaFunction', 'Arn'] },
        BatchSize: 100,
        StartingPosition: 'LATEST',
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['ReconcileDlq', 'Arn'] } } },
      });
      expect(patterns).toEqual([
        {
          eventName: ['INSERT'],
          dynamodb: { NewImage: { kind: { S: [{ 'anything-but': ['connect_failed'] }] } } },
        },
      ]);
    });

    it('feeds the devices stream to countFleet in 30 s tumbling windows, one batch per shard at a time, retried until the records expire', () => {
      // Act
      const { properties, patterns } = streamMappingOf('DevicesTable');

      // Assert
      expect(properties).toMatchObject({
        FunctionName: { 'Fn::GetAtt': ['CountFleetLambdaFunction', 'Arn'] },
        TumblingWindowInSeconds: 30,
        MaximumBatchingWindowInSeconds: 30,
        ParallelizationFactor: 1,
        MaximumRetryAttempts: -1,
        MaximumRecordAgeInSeconds: -1,
        StartingPosition: 'TRIM_HORIZON',
      });
      expect(properties?.BisectBatchOnFunctionError).not.toBe(true);
      // Only device items: the counter items (no countedAs) never wake the function.
      expect(patterns).toEqual([
        { dynamodb: { NewImage: { countedAs: { S: [{ exists: true }] } } } },
        { dynamodb: { OldImage: { countedAs: { S: [{ exists: true }] } } } },
      ]);
    });

    it('hides a received check message for at least six times settleCheck’s timeout', () => {
      // Arrange
      const settle = resource(template, 'SettleCheckLambdaFunction');

      // Act
      const functionTimeout = property<number>(settle, 'Timeout');
      const visibilityTimeout = property<number>(resource(template, 'CheckQueue'), 'VisibilityTimeout');

      // Assert
      expect(functionTimeout).toBeGreaterThan(0);
      expect(visibilityTimeout).toBeGreaterThanOrEqual(6 * functionTimeout);
    });

    it('feeds the settle-check queue to settleCheck with partial batch failures', () => {
      // Act
      const mapping = Object.values(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')).find(
        (candidate) =>
          JSON.stringify(candidate.Properties?.EventSourceArn) ===
          JSON.stringify({ 'Fn::GetAtt': ['CheckQueue', 'Arn'] }),
      );

      // Assert
      expect(mapping?.Properties).toMatchObject({
        FunctionName: { 'Fn::GetAtt': ['SettleCheckLambdaFunction', 'Arn'] },
        BatchSize: 10,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    });

    it('runs the sweep every minute', () => {
      // Act
      const rules = Object.values(resourcesOfType(template, 'AWS::Events::Rule'));

      // Assert
      expect(rules).toHaveLength(1);
      const [rule] = rules;
      expect(rule?.Properties?.ScheduleExpression).toBe('rate(1 minute)');
      const targets = property<Array<{ Arn: unknown }>>(rule, 'Targets');
      expect(targets.map((target) => target.Arn)).toEqual([{ 'Fn::GetAtt': ['SweepLambdaFunction', 'Arn'] }]);
    });
  });

  describe('monitoring', () => {
    const opsTopic = { Ref: 'OpsTopic' };

    it('sends every alarm to an ops topic that is not the device alert topic', () => {
      // Act
      const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));

      // Assert
      expect(resource(template, 'OpsTopic').Type).toBe('AWS::SNS::Topic');
      expect(property(resource(template, 'OpsTopic'), 'TopicName')).not.toEqual(
        property(resource(template, 'AlertTopic'), 'TopicName'),
      );
      expect(alarms.length).toBeGreaterThan(0);
      for (const alarm of alarms) {
        expect(property(alarm, 'AlarmActions')).toEqual([opsTopic]);
      }
    });

    it('creates no e-mail subscription to the ops topic when no opsEmail is given', () => {
      // Act
      const subscription = resource(template, 'OpsEmailSubscription');

      // Assert
      expect(property(subscription, 'TopicArn')).toEqual(opsTopic);
      expect(evaluateCondition(template, subscription.Condition as string)).toBe(false);
    });

    it('alarms as soon as one message is visible in any dead-letter queue', () => {
      // Act
      const alarms = alarmsOn(template, 'ApproximateNumberOfMessagesVisible');

      // Assert
      const queues = alarms.map(
        (alarm) => (dimension(alarm, 'QueueName') as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
      );
      expect(queues.sort()).toEqual(['CheckDlq', 'IngestDlq', 'ReconcileDlq']);
      for (const alarm of alarms) {
        expect(alarm).toMatchObject({
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: 0,
          AlarmActions: [opsTopic],
        });
      }
    });

    it('alarms when the oldest settle check is older than W + 5 minutes', () => {
      // Arrange
      const variables = property<{ Variables: Record<string, unknown> }>(
        resource(template, 'SettleCheckLambdaFunction'),
        'Environment',
      ).Variables;
      const settleWindowSeconds = Number(variables.SETTLE_WINDOW_SECONDS);

      // Act
      const [alarm, ...others] = alarmsOn(template, 'ApproximateAgeOfOldestMessage');

      // Assert
      expect(others).toEqual([]);
      expect(dimension(alarm as AlarmProperties, 'QueueName')).toEqual({
        'Fn::GetAtt': ['CheckQueue', 'QueueName'],
      });
      expect(alarm).toMatchObject({
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: settleWindowSeconds + 300,
        AlarmActions: [opsTopic],
      });
    });

    it.each(['Errors', 'Throttles'])('alarms on the %s of every function', (metricName) => {
      // Act
      const alarms = alarmsOn(template, metricName);

      // Assert
      const watched = alarms.map((alarm) => (dimension(alarm, 'FunctionName') as { Ref: string }).Ref);
      expect(watched.sort()).toEqual(Object.keys(functionHandlers).sort());
      for (const alarm of alarms) {
        expect(alarm).toMatchObject({
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: 0,
          AlarmActions: [opsTopic],
        });
      }
    });

    it('alarms when either stream mapping (reconcile, fleet counts) falls more than 5 minutes behind', () => {
      // Act
      const alarms = alarmsOn(template, 'IteratorAge');

      // Assert
      const watched = alarms.map((alarm) => (dimension(alarm, 'FunctionName') as { Ref: string }).Ref);
      expect(watched.sort()).toEqual(['CountFleetLambdaFunction', 'ReconcileEventsLambdaFunction']);
      for (const alarm of alarms) {
        expect(alarm).toMatchObject({
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: 300_000,
          AlarmActions: [opsTopic],
        });
      }
    });

    it('alarms on DynamoDB throttled requests to every table', () => {
      // Act
      const alarms = alarmsOn(template, 'ThrottledRequests');

      // Assert
      const tablesWatched = alarms.map((alarm) => (dimension(alarm, 'TableName') as { Ref: string }).Ref);
      expect(tablesWatched.sort()).toEqual(Object.values(tableLogicalIds).sort());
      for (const alarm of alarms) {
        expect(alarm).toMatchObject({
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: 0,
          AlarmActions: [opsTopic],
        });
      }
    });

    it('alarms when SNS fails to deliver a notification of the alert topic', () => {
      // Act
      const alarms = alarmsOn(template, 'NumberOfNotificationsFailed');

      // Assert
      expect(alarms).toHaveLength(1);
      expect(dimension(alarms[0] as AlarmProperties, 'TopicName')).toEqual({
        'Fn::GetAtt': ['AlertTopic', 'TopicName'],
      });
      expect(alarms[0]).toMatchObject({
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        AlarmActions: [opsTopic],
      });
    });

    it('deploys a health dashboard of every metric the functions emit, next to the alarmed AWS metrics', async () => {
      // Arrange
      const emitted = await emittedMetricNames();

      // Act
      const body = property<{ 'Fn::Sub': string }>(resource(template, 'HealthDashboard'), 'DashboardBody')[
        'Fn::Sub'
      ];

      // Assert
      const widgets = (JSON.parse(body) as { widgets: Array<{ properties: { metrics: string[][] } }> })
        .widgets;
      const shown = new Set(
        widgets.flatMap((widget) => widget.properties.metrics.map((metric) => `${metric[0]}/${metric[1]}`)),
      );
      expect(emitted.length).toBeGreaterThan(5);
      for (const name of emitted) expect(shown).toContain(`IotPresence/${name}`);
      for (const name of [
        'AWS/Lambda/Errors',
        'AWS/Lambda/Throttles',
        'AWS/Lambda/IteratorAge',
        'AWS/SQS/ApproximateAgeOfOldestMessage',
        'AWS/SQS/ApproximateNumberOfMessagesVisible',
        'AWS/SNS/NumberOfNotificationsFailed',
      ]) {
        expect(shown).toContain(name);
      }
    });
  });

  describe('alerting', () => {
    it('creates no e-mail subscription to the alert topic when no alertEmail is given', () => {
      // Act
      const subscriptions = Object.values(resourcesOfType(template, 'AWS::SNS::Subscription'));

      // Assert
      const created = subscriptions.filter(
        (subscription) =>
          subscription.Condition === undefined || evaluateCondition(template, subscription.Condition),
      );
      expect(created).toEqual([]);
    });

    it('exports the HTTP API URL, alert topic ARN and queue URLs as stack outputs', () => {
      // Act
      const outputs = Object.keys(template.Outputs ?? {});

      // Assert
      expect(outputs).toEqual(
        expect.arrayContaining([
          'HttpApiUrl',
          'AlertTopicArn',
          'CheckQueueUrl',
          'IngestDlqUrl',
          'ReconcileDlqUrl',
        ]),
      );
    });
  });
});

describe('serverless package of a real stage', () => {
  it(
    'refuses a stage other than local and dev while cursorSigningKey is the placeholder, saying how to fix it',
    async () => {
      // Arrange: no key in the environment, none on the command line.
      const env = packagingEnvironment();
      delete env.IOT_PRESENCE_CURSOR_SIGNING_KEY;

      // Act
      const output = await packagingFailure('prod', env);

      // Assert
      expect(output).toContain('stage "prod" cannot be deployed with the placeholder cursorSigningKey');
      expect(output).toContain('--param="cursorSigningKey=');
    },
    packageTimeoutMs,
  );
});
