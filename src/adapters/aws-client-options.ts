import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { environmentFaults, type FaultInjector, type ServiceFault } from './faults.js';

/** The services whose clients may be given an endpoint of their own. */
export type AwsService = 'dynamodb' | 'sns' | 'sqs';

export interface AwsClientOptions {
  region?: string;
  /**
   * Where each service's client sends its requests; a service left out gets the SDK's own resolution (its
   * AWS_ENDPOINT_URL_<SERVICE> variable, else AWS). The local runtime names its emulators here.
   */
  endpoints?: Partial<Record<AwsService, string>>;
  /** Static credentials; else the SDK's default provider chain (the Lambda role in AWS). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  faults?: FaultInjector;
  /** Retry backoff per attempt in ms; the SDK's exponential default when absent (the local replay shortens it). */
  retryBackoffMs?: number;
}

/** Attempts of every request the functions' SDK clients make (the first and its retries). */
export const MAX_ATTEMPTS = 4;

interface MiddlewareStack {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
    options: { step: 'initialize' | 'finalizeRequest'; name: string },
  ): void;
}

export interface ClientSettings {
  /** The options every SDK client is constructed with. */
  common: {
    region: string;
    maxAttempts: number;
    retryStrategy?: ConfiguredRetryStrategy;
    endpoint?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string };
  };
  faults: FaultInjector;
}

/** The explicit options shared by every SDK client the functions build (with `service`'s endpoint when given one). */
export function clientSettings(options: AwsClientOptions = {}, service?: AwsService): ClientSettings {
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const faults = options.faults ?? environmentFaults();
  const retryStrategy =
    options.retryBackoffMs === undefined
      ? undefined
      : new ConfiguredRetryStrategy(MAX_ATTEMPTS, (attempt) => attempt * (options.retryBackoffMs ?? 0));
  const endpoint = service ? options.endpoints?.[service] : undefined;
  return {
    common: {
      region,
      maxAttempts: MAX_ATTEMPTS,
      ...(retryStrategy ? { retryStrategy } : {}),
      ...(endpoint ? { endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    },
    faults,
  };
}

/**
 * Makes the client's requests fail as often as the injected faults of `fault.kind` say (IOT_PRESENCE_FAULTS): SDK
 * middleware inside the retry loop (finalizeRequest, as throttling fails a request) or before it (initialize, as an
 * outage fails the call). Nothing is added when the rate is 0.
 */
export function injectFaults(
  client: { middlewareStack: unknown },
  faults: FaultInjector,
  fault: ServiceFault,
): void {
  if (faults.rates[fault.kind] <= 0) return;
  (client.middlewareStack as MiddlewareStack).add(
    (next) => async (args) => {
      if (faults.strikes(fault.kind)) throw fault.error();
      return next(args);
    },
    {
      step: fault.retried ? 'finalizeRequest' : 'initialize',
      name: `iotPresenceInjectedFault-${fault.kind}`,
    },
  );
}
