import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'iot-presence';

/**
 * A Powertools Logger whose level a run on this machine can pin. Logger 2.35 sets the level back to the one it was
 * built with at every warm invocation (refreshSampleRateCalculation, which injectLambdaContext calls), so a level
 * set after the module loaded lasts one invocation. Deployed, nothing pins it.
 */
class PinnableLogger extends Logger {
  #pinned = false;

  pinLogLevel(level: LogLevel): void {
    this.#pinned = true;
    this.setLogLevel(level);
  }

  override refreshSampleRateCalculation(): void {
    if (!this.#pinned) super.refreshSampleRateCalculation();
  }
}

/** The one structured JSON logger every function shares. */
export const logger = new PinnableLogger({ serviceName });

/**
 * Powertools Metrics that a run on this machine can silence. Metrics 2.35 is disabled only by
 * POWERTOOLS_METRICS_DISABLED or POWERTOOLS_DEV, read when the instance is built, with no public switch
 * afterwards; a silenced instance drops what it stored where it would print it (publishStoredMetrics, which the
 * logMetrics middleware calls after each invocation), and its empty-metrics warning with it. Deployed, nothing
 * silences it.
 */
class SilenceableMetrics extends Metrics {
  #silenced = false;

  silence(): void {
    this.#silenced = true;
  }

  /** Whether POWERTOOLS_METRICS_DISABLED enabled these metrics (a false value) when they were built. */
  enabledByEnvironment(): boolean {
    return process.env.POWERTOOLS_METRICS_DISABLED !== undefined && !this.isDisabled();
  }

  override publishStoredMetrics(): this {
    if (!this.#silenced) return super.publishStoredMetrics();
    this.clearMetrics();
    this.clearDimensions();
    this.clearMetadata();
    return this;
  }
}

/** EMF metrics, flushed by the logMetrics middleware at the end of each invocation. */
export const metrics = new SilenceableMetrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'IotPresence',
});

/**
 * A run on this machine (`npm start`, the replay), set up once at start-up instead of through the environment:
 * the functions log at `logLevel` unless POWERTOOLS_LOG_LEVEL chose a level (which the logger has read), and
 * print no EMF metrics unless POWERTOOLS_METRICS_DISABLED=false asked for them (which the metrics have read).
 */
export function quietForLocalRun(options: { logLevel: LogLevel }): void {
  if (process.env.POWERTOOLS_LOG_LEVEL === undefined) logger.pinLogLevel(options.logLevel);
  if (!metrics.enabledByEnvironment()) metrics.silence();
}
