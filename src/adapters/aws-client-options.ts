import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { environmentFaults, type FaultInjector } from './faults.js';

export interface AwsClientOptions {
  region?: string;
  faults?: FaultInjector;
  /** Retry backoff per attempt in ms; the SDK's exponential default when absent (the local replay shortens it). */
  retryBackoffMs?: number;
}

const MAX_ATTEMPTS = 4;

export interface MiddlewareStack {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>,
    options: { step: 'initialize' | 'finalizeRequest'; name: string },
  ): void;
}

export interface ClientSettings {
  /** The options every SDK client is constructed with. */
  common: { region: string; maxAttempts: number; retryStrategy?: ConfiguredRetryStrategy };
  faults: FaultInjector;
}

/** The explicit options shared by every SDK client the functions build. */
export function clientSettings(options: AwsClientOptions = {}): ClientSettings {
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const faults = options.faults ?? environmentFaults();
  const retryStrategy =
    options.retryBackoffMs === undefined
      ? undefined
      : new ConfiguredRetryStrategy(MAX_ATTEMPTS, (attempt) => attempt * (options.retryBackoffMs ?? 0));
  return {
    common: { region, maxAttempts: MAX_ATTEMPTS, ...(retryStrategy ? { retryStrategy } : {}) },
    faults,
  };
}
