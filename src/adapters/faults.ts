import { seededRandom } from '../shared/seeded-random.js';
import * as z from '../shared/zod.js';

/** Failure probabilities injected for resilience testing. Never active unless IOT_PRESENCE_FAULTS is set. */
export interface FaultRates {
  /** Each DynamoDB request fails with a retryable error (throttling or 500). */
  dynamodb: number;
  /** Each SNS Publish fails. */
  sns: number;
  /** Each invocation throws after its work is done (a Lambda timeout after the writes). */
  crash: number;
}

export const NO_FAULTS: FaultRates = { dynamodb: 0, sns: 0, crash: 0 };

/** The rates the accuracy bench and the fault tests inject: every request, publish and invocation may fail. */
export const STANDARD_FAULTS: FaultRates = { dynamodb: 0.05, sns: 0.2, crash: 0.05 };

const rateSchema = z.coerce.number().check(z.gte(0), z.lte(1));
const specSchema = z.partial(z.strictObject({ dynamodb: rateSchema, sns: rateSchema, crash: rateSchema }));

/** Parses "dynamodb=0.05,sns=0.2,crash=0.05"; a malformed spec is a configuration error at cold start. */
function parseFaultSpec(spec: string | undefined): FaultRates {
  if (!spec?.trim()) return NO_FAULTS;
  const entries = spec.split(',').map((part) => part.split('=').map((s) => s.trim()));
  if (entries.some((entry) => entry.length !== 2))
    throw new Error(`IOT_PRESENCE_FAULTS is malformed: "${spec}"`);
  const parsed = specSchema.safeParse(Object.fromEntries(entries));
  if (!parsed.success) throw new Error(`IOT_PRESENCE_FAULTS is malformed: "${spec}"`);
  return { ...NO_FAULTS, ...parsed.data };
}

export class FaultInjector {
  /** How many faults of each kind struck: DynamoDB attempts, SNS publishes, invocations. */
  readonly struck: Record<keyof FaultRates, number> = { dynamodb: 0, sns: 0, crash: 0 };

  constructor(
    readonly rates: FaultRates,
    private readonly random: () => number = Math.random,
  ) {}

  get active(): boolean {
    return this.rates.dynamodb > 0 || this.rates.sns > 0 || this.rates.crash > 0;
  }

  strikes(kind: keyof FaultRates): boolean {
    const rate = this.rates[kind];
    const struck = rate > 0 && this.random() < rate;
    if (struck) this.struck[kind] += 1;
    return struck;
  }
}

export class InjectedCrashError extends Error {
  override name = 'InjectedCrashError';
  constructor() {
    super('injected fault: the invocation died after its work was done');
  }
}

let fromEnvironment: FaultInjector | undefined;

/** Replaces the process's fault injector: the replay and tests choose faults per run. */
export function installFaults(injector: FaultInjector): void {
  fromEnvironment = injector;
}

/** The fault injector an environment names: IOT_PRESENCE_FAULTS, seeded by IOT_PRESENCE_FAULTS_SEED when set. */
export function faultsFromEnvironment(env: Record<string, string | undefined>): FaultInjector {
  const seed = env.IOT_PRESENCE_FAULTS_SEED;
  return new FaultInjector(
    parseFaultSpec(env.IOT_PRESENCE_FAULTS),
    seed ? seededRandom(Number(seed)) : Math.random,
  );
}

/** The process's fault injector, read once from the environment. */
export function environmentFaults(): FaultInjector {
  fromEnvironment ??= faultsFromEnvironment(process.env);
  return fromEnvironment;
}

/** A retryable DynamoDB error, as the service returns it under throttling or an internal error. */
function injectedDynamoDbError(random: () => number = Math.random): Error {
  const throttled = random() < 0.5;
  return Object.assign(
    new Error(throttled ? 'injected fault: throughput exceeded' : 'injected fault: internal server error'),
    {
      name: throttled ? 'ProvisionedThroughputExceededException' : 'InternalServerError',
      $fault: throttled ? 'client' : 'server',
      $metadata: { httpStatusCode: throttled ? 400 : 500, attempts: 1, totalRetryDelay: 0 },
    },
  );
}

function injectedSnsError(): Error {
  return Object.assign(new Error('injected fault: SNS publish failed'), {
    name: 'InternalErrorException',
    $fault: 'server',
    $metadata: { httpStatusCode: 500 },
  });
}

/**
 * Where an injected fault of a service strikes its requests, and what it throws: one definition for the SDK clients
 * (aws-client-options.ts's injectFaults, on the fidelity path and deployed) and the in-memory ports
 * (src/local/port-faults.ts).
 */
export interface ServiceFault {
  kind: keyof Pick<FaultRates, 'dynamodb' | 'sns'>;
  /**
   * Inside the SDK's retry loop (a struck attempt is made again, as throttling fails a request), or before it (the
   * call fails at once, as an outage fails it).
   */
  retried: boolean;
  error: () => Error;
}

export const DYNAMODB_FAULT: ServiceFault = { kind: 'dynamodb', retried: true, error: injectedDynamoDbError };
export const SNS_FAULT: ServiceFault = { kind: 'sns', retried: false, error: injectedSnsError };
