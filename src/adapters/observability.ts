import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'iot-presence';

/** The one structured JSON logger every function shares. */
export const logger = new Logger({ serviceName });

/** EMF metrics, flushed by the logMetrics middleware at the end of each invocation. */
export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'IotPresence',
});
