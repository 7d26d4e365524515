// Alarms, the ops topic and the health dashboard of iot-presence, merged into the stack by serverless.yml
// (`resources: - ${file(./infra/monitoring.cjs)}`).
//
// Generated rather than written out in YAML: every function gets the same two alarms and every table the same
// throttling alarm, so the lists below come from the service's own configuration (a new function or table is
// watched without anyone remembering to add it), and the thresholds that depend on a deploy parameter (the check
// queue's age depends on W) are computed here, where arithmetic is possible.
//
// CommonJS because osls loads variable files with require().
'use strict';

/** Seconds the check queue's oldest message may exceed W before the alarm fires. */
const CHECK_AGE_MARGIN_SECONDS = 300;
/** Milliseconds of stream lag (IteratorAge of a stream mapping) before the alarm fires. */
const ITERATOR_AGE_THRESHOLD_MS = 5 * 60 * 1000;

/** The dead-letter queues of the stack (logical ids of infra/resources.yml). */
const DEAD_LETTER_QUEUES = ['IngestDlq', 'ReconcileDlq', 'CheckDlq'];
/** The tables of the stack (logical ids of infra/resources.yml). */
const TABLES = ['EventsTable', 'DevicesTable', 'AlertsTable', 'RejectedTable', 'UptimeTable'];
/**
 * DynamoDB publishes ThrottledRequests only per table *and* operation; the alarm sums the operations the service
 * uses (an alarm's metric math takes at most 10 metrics).
 */
const TABLE_OPERATIONS = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactWriteItems',
];
/** The metrics the functions emit (grep addMetric in src/), grouped as the dashboard shows them. */
const SERVICE_METRIC_WIDGETS = [
  { title: 'Ingest', metrics: ['EventsStored', 'DuplicateDeliveries', 'RejectedInputs', 'UnexplainedWills'] },
  { title: 'Reconcile and settle', metrics: ['ReconciledDevices', 'SettleChecks', 'AlertsDecided'] },
  { title: 'Fleet counts', metrics: ['FleetCountWindows'] },
  { title: 'Sweep (safety net)', metrics: ['SweptOutboxes', 'RetriedAlerts', 'UnreadableRecords'] },
  { title: 'HTTP API', metrics: ['ApiRequests', 'HttpErrors'] },
];

/** The logical id serverless gives a function's AWS::Lambda::Function (`getDevice` → `GetDeviceLambdaFunction`). */
function functionLogicalId(name) {
  const normalized = name.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${normalized[0].toUpperCase()}${normalized.slice(1)}LambdaFunction`;
}

function capitalised(name) {
  return `${name[0].toUpperCase()}${name.slice(1)}`;
}

module.exports = async ({ resolveVariable, resolveConfigurationProperty }) => {
  const service = await resolveVariable('self:service');
  const stage = await resolveVariable('sls:stage');
  const settleWindowSeconds = Number(await resolveVariable('param:settleWindowSeconds'));
  if (!Number.isInteger(settleWindowSeconds) || settleWindowSeconds < 1) {
    throw new Error(`settleWindowSeconds must be a whole number of seconds, not ${settleWindowSeconds}`);
  }
  const functions = Object.keys((await resolveConfigurationProperty(['functions'])) ?? {});
  const environment = (await resolveConfigurationProperty(['provider', 'environment'])) ?? {};
  const namespace = environment.POWERTOOLS_METRICS_NAMESPACE ?? 'IotPresence';
  const serviceName = environment.POWERTOOLS_SERVICE_NAME ?? service;
  const prefix = `${service}-${stage}`;

  const alarm = (name, description, properties) => ({
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${prefix}-${name}`,
      AlarmDescription: description,
      AlarmActions: [{ Ref: 'OpsTopic' }],
      OKActions: [{ Ref: 'OpsTopic' }],
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      ...properties,
    },
  });

  const resources = {
    OpsTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: { TopicName: `${prefix}-ops` },
    },
    OpsEmailSubscription: {
      Type: 'AWS::SNS::Subscription',
      Condition: 'HasOpsEmail',
      Properties: { TopicArn: { Ref: 'OpsTopic' }, Protocol: 'email', Endpoint: '${param:opsEmail}' },
    },
  };

  for (const queue of DEAD_LETTER_QUEUES) {
    resources[`${queue}MessagesAlarm`] = alarm(
      `${queue.replace(/Dlq$/, '').toLowerCase()}-dlq-messages`,
      `Messages wait in ${queue}: something failed for good. Read them, fix the cause, then redrive.`,
      {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: 0,
      },
    );
  }

  resources.CheckQueueAgeAlarm = alarm(
    'check-queue-age',
    `A settle check has waited more than W + ${CHECK_AGE_MARGIN_SECONDS / 60} minutes (W = ${settleWindowSeconds} s): settleCheck is not keeping up or keeps failing.`,
    {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['CheckQueue', 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: settleWindowSeconds + CHECK_AGE_MARGIN_SECONDS,
    },
  );

  for (const name of functions) {
    const logicalId = functionLogicalId(name);
    const dimensions = [{ Name: 'FunctionName', Value: { Ref: logicalId } }];
    resources[`${capitalised(name)}ErrorsAlarm`] = alarm(`${name}-errors`, `${name} failed invocations.`, {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: dimensions,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
    });
    resources[`${capitalised(name)}ThrottlesAlarm`] = alarm(`${name}-throttles`, `${name} was throttled.`, {
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: dimensions,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
    });
  }

  const iteratorAgeAlarm = (name, functionLogicalIdOf, description) =>
    alarm(name, description, {
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionLogicalIdOf } }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: ITERATOR_AGE_THRESHOLD_MS,
    });
  resources.ReconcileIteratorAgeAlarm = iteratorAgeAlarm(
    'reconcile-iterator-age',
    'ReconcileEventsLambdaFunction',
    'reconcileEvents is more than 5 minutes behind the events stream: states and alerts are late.',
  );
  resources.CountFleetIteratorAgeAlarm = iteratorAgeAlarm(
    'count-fleet-iterator-age',
    'CountFleetLambdaFunction',
    'countFleet is more than 5 minutes behind the devices stream: GET /fleet counts are late, and lost for good if it stays 24 hours behind.',
  );

  for (const table of TABLES) {
    resources[`${table}ThrottlesAlarm`] = alarm(
      `${table.replace(/Table$/, '').toLowerCase()}-table-throttles`,
      `DynamoDB throttled requests to ${table}.`,
      {
        Metrics: [
          ...TABLE_OPERATIONS.map((operation, index) => ({
            Id: `m${index}`,
            ReturnData: false,
            MetricStat: {
              Metric: {
                Namespace: 'AWS/DynamoDB',
                MetricName: 'ThrottledRequests',
                Dimensions: [
                  { Name: 'TableName', Value: { Ref: table } },
                  { Name: 'Operation', Value: operation },
                ],
              },
              Period: 300,
              Stat: 'Sum',
            },
          })),
          {
            Id: 'throttled',
            Label: 'ThrottledRequests',
            Expression: `SUM([${TABLE_OPERATIONS.map((_, index) => `m${index}`).join(',')}])`,
            ReturnData: true,
          },
        ],
        Threshold: 0,
      },
    );
  }

  resources.AlertTopicFailedNotificationsAlarm = alarm(
    'alert-topic-failed-notifications',
    'SNS could not deliver alerts to a subscriber of the alert topic.',
    {
      Namespace: 'AWS/SNS',
      MetricName: 'NumberOfNotificationsFailed',
      Dimensions: [{ Name: 'TopicName', Value: { 'Fn::GetAtt': ['AlertTopic', 'TopicName'] } }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
    },
  );

  resources.HealthDashboard = {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      DashboardName: prefix,
      DashboardBody: { 'Fn::Sub': JSON.stringify(dashboardBody()) },
    },
  };

  function dashboardBody() {
    const width = 12;
    const height = 6;
    const widgets = [];
    const place = (title, metrics, extra = {}) => {
      const index = widgets.length;
      widgets.push({
        type: 'metric',
        x: (index % 2) * width,
        y: Math.floor(index / 2) * height,
        width,
        height,
        properties: { title, region: '${AWS::Region}', view: 'timeSeries', period: 60, metrics, ...extra },
      });
    };
    for (const group of SERVICE_METRIC_WIDGETS) {
      place(
        group.title,
        group.metrics.map((metric) => [namespace, metric, 'service', serviceName, { stat: 'Sum' }]),
      );
    }
    place(
      'Function errors',
      functions.map((name) => ['AWS/Lambda', 'Errors', 'FunctionName', `\${${functionLogicalId(name)}}`]),
      { stat: 'Sum' },
    );
    place(
      'Function throttles',
      functions.map((name) => ['AWS/Lambda', 'Throttles', 'FunctionName', `\${${functionLogicalId(name)}}`]),
      { stat: 'Sum' },
    );
    place(
      'Reconcile stream lag (IteratorAge, ms)',
      [['AWS/Lambda', 'IteratorAge', 'FunctionName', '${ReconcileEventsLambdaFunction}']],
      {
        stat: 'Maximum',
        annotations: { horizontal: [{ label: 'alarm', value: ITERATOR_AGE_THRESHOLD_MS }] },
      },
    );
    place(
      'Check queue: oldest message (s)',
      [['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', '${CheckQueue.QueueName}']],
      {
        stat: 'Maximum',
        annotations: {
          horizontal: [{ label: 'alarm', value: settleWindowSeconds + CHECK_AGE_MARGIN_SECONDS }],
        },
      },
    );
    place(
      'Dead-letter queues: messages visible',
      DEAD_LETTER_QUEUES.map((queue) => [
        'AWS/SQS',
        'ApproximateNumberOfMessagesVisible',
        'QueueName',
        `\${${queue}.QueueName}`,
      ]),
      { stat: 'Maximum' },
    );
    place(
      'DynamoDB read and write throttle events',
      TABLES.flatMap((table) => [
        ['AWS/DynamoDB', 'ReadThrottleEvents', 'TableName', `\${${table}}`],
        ['AWS/DynamoDB', 'WriteThrottleEvents', 'TableName', `\${${table}}`],
      ]),
      { stat: 'Sum' },
    );
    place(
      'Alert topic',
      [
        ['AWS/SNS', 'NumberOfMessagesPublished', 'TopicName', '${AlertTopic.TopicName}'],
        ['AWS/SNS', 'NumberOfNotificationsDelivered', 'TopicName', '${AlertTopic.TopicName}'],
        ['AWS/SNS', 'NumberOfNotificationsFailed', 'TopicName', '${AlertTopic.TopicName}'],
      ],
      { stat: 'Sum' },
    );
    place(
      'Function duration p99 (ms)',
      functions.map((name) => ['AWS/Lambda', 'Duration', 'FunctionName', `\${${functionLogicalId(name)}}`]),
      { stat: 'p99' },
    );
    return { widgets };
  }

  return {
    Conditions: {
      HasOpsEmail: { 'Fn::Not': [{ 'Fn::Equals': ['${param:opsEmail}', ''] }] },
    },
    Resources: resources,
    Outputs: {
      OpsTopicArn: { Value: { Ref: 'OpsTopic' } },
      HealthDashboardName: { Value: { Ref: 'HealthDashboard' } },
    },
  };
};
