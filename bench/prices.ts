/**
 * Every AWS price the cost model uses, in one place: us-east-1, on-demand, no free tier, as published on the pages
 * named (read on the date given). The bench's dollars, its floor and docs/cost.md's monthly table come from here.
 */
export interface Price {
  /** Dollars per unit. */
  dollars: number;
  unit: string;
  source: string;
  /** When the price was read from its source (YYYY-MM-DD). */
  readOn: string;
}

export const PRICE_REGION = 'us-east-1';

const perMillion = (dollars: number) => dollars / 1e6;

export const PRICES = {
  iotRuleTriggered: {
    dollars: perMillion(0.15),
    unit: 'rule triggered',
    source: 'https://aws.amazon.com/iot-core/pricing/ (Rules Engine)',
    readOn: '2026-09-20',
  },
  iotRuleAction: {
    dollars: perMillion(0.15),
    unit: 'action executed',
    source: 'https://aws.amazon.com/iot-core/pricing/ (Rules Engine)',
    readOn: '2026-09-20',
  },
  lambdaRequest: {
    dollars: perMillion(0.2),
    unit: 'request',
    source: 'https://aws.amazon.com/lambda/pricing/',
    readOn: '2026-09-20',
  },
  lambdaArmGbSecond: {
    dollars: 0.0000133334,
    unit: 'GB-second on arm64 (first 7.5 billion a month)',
    source: 'https://aws.amazon.com/lambda/pricing/',
    readOn: '2026-09-20',
  },
  dynamoWriteUnit: {
    dollars: perMillion(0.625),
    unit: 'write request unit (a transactional write of 1 KB is 2)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    readOn: '2026-09-18',
  },
  dynamoReadUnit: {
    dollars: perMillion(0.125),
    unit: 'read request unit (an eventually consistent read of 4 KB is 0.5)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    readOn: '2026-09-18',
  },
  sqsRequest: {
    dollars: perMillion(0.4),
    unit: 'standard queue request (64 KB chunk)',
    source: 'https://aws.amazon.com/sqs/pricing/',
    readOn: '2026-09-20',
  },
  snsPublish: {
    dollars: perMillion(0.5),
    unit: 'publish (64 KB chunk)',
    source: 'https://aws.amazon.com/sns/pricing/',
    readOn: '2026-09-20',
  },
  httpApiRequest: {
    dollars: perMillion(1.0),
    unit: 'API Gateway HTTP API request (first 300 million a month)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
    readOn: '2026-09-20',
  },
  fleetIndexUpdate: {
    dollars: perMillion(2.25),
    unit: 'AWS IoT Fleet Indexing index update (1 KB)',
    source: 'https://aws.amazon.com/iot-device-management/pricing/',
    readOn: '2026-09-20',
  },
  fleetIndexQuery: {
    dollars: 0.05 / 10_000,
    unit: 'AWS IoT Fleet Indexing search query',
    source: 'https://aws.amazon.com/iot-device-management/pricing/',
    readOn: '2026-09-20',
  },
} satisfies Record<string, Price>;

/** serverless.yml's memorySize for every function (provider-wide), in GB as Lambda bills it. */
const LAMBDA_MEMORY_GB = 256 / 1024;

/** Lambda bills duration in whole milliseconds, rounded up. */
export function billedGbSeconds(durationMs: number, memoryGb = LAMBDA_MEMORY_GB): number {
  return (Math.ceil(durationMs) / 1000) * memoryGb;
}

/**
 * This design's floor per event: the IoT rule and its Lambda action, one ingest invocation (its request and its
 * duration), and two write units (the event and the device).
 */
export function floorDollarsPerEvent(ingestGbSecondsPerInvocation: number): number {
  return (
    PRICES.iotRuleTriggered.dollars +
    PRICES.iotRuleAction.dollars +
    PRICES.lambdaRequest.dollars +
    ingestGbSecondsPerInvocation * PRICES.lambdaArmGbSecond.dollars +
    2 * PRICES.dynamoWriteUnit.dollars
  );
}
