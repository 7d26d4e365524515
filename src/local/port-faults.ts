import { MAX_ATTEMPTS } from '../adapters/aws-client-options.js';
import {
  DYNAMODB_FAULT,
  type FaultInjector,
  type FaultRates,
  type ServiceFault,
  SNS_FAULT,
} from '../adapters/faults.js';

/** What the injected faults of a run did. */
export interface InjectedFaultCounts {
  /** Faults that struck, by kind: DynamoDB attempts, SNS publishes, invocations (after their work). */
  struck: Record<keyof FaultRates, number>;
  /** In memory: DynamoDB calls made again after a struck attempt (the SDK clients' retries). */
  sdkRetries?: number;
  /** In memory: calls that failed in the functions' hands (every DynamoDB attempt struck, or a publish refused). */
  failedCalls?: number;
}

/**
 * The injected faults (IOT_PRESENCE_FAULTS) at the in-memory ports, where the fidelity path has them in the SDK
 * clients (aws-client-options.ts's injectFaults, with the same ServiceFault): a call of a port that stands for a
 * service (a store for DynamoDB, the topic for SNS) may be struck before it takes effect.
 * - DynamoDB: the fault strikes inside the SDK's retry loop, so a struck call is made again, up to the deployed
 *   clients' MAX_ATTEMPTS, at once (virtual time: the replay's SDK clients wait no backoff either). Only a call every
 *   attempt of which was struck fails, with the injected error, as the SDK throws its last attempt's; the invocation
 *   then fails, and Lambda's or the event source's retry takes over, as deployed.
 * - SNS: the fault strikes before the retry loop: the publish fails at once, and the outbox's lease retries it.
 * A port call is one request here; the adapter behind it may make several (the retry quota is not modelled either).
 * Crashes of invocations strike in the functions themselves (lambda-shell.ts), on both paths.
 */
export class PortFaults {
  private sdkRetries = 0;
  private failedCalls = 0;

  constructor(private readonly faults: FaultInjector) {}

  /** `port` with every method call exposed to DynamoDB faults (all of them: it stands for a table). */
  dynamodb<T extends object>(port: T): T {
    return this.around(port, DYNAMODB_FAULT);
  }

  /** `port` with every method call exposed to SNS faults (it stands for the topic). */
  sns<T extends object>(port: T): T {
    return this.around(port, SNS_FAULT);
  }

  counts(): InjectedFaultCounts {
    return { struck: { ...this.faults.struck }, sdkRetries: this.sdkRetries, failedCalls: this.failedCalls };
  }

  private around<T extends object>(port: T, fault: ServiceFault): T {
    if (this.faults.rates[fault.kind] <= 0) return port;
    return new Proxy(port, {
      get: (target, property) => {
        const value: unknown = Reflect.get(target, property);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => this.call(fault, () => value.apply(target, args));
      },
    });
  }

  private async call(fault: ServiceFault, work: () => unknown): Promise<unknown> {
    const attempts = fault.retried ? MAX_ATTEMPTS : 1;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (!this.faults.strikes(fault.kind)) return work();
      if (attempt < attempts) this.sdkRetries += 1;
    }
    this.failedCalls += 1;
    const error = fault.error() as Error & { $metadata?: object };
    error.$metadata = { ...error.$metadata, attempts };
    throw error;
  }
}
