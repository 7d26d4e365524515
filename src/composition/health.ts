import { type Config, productionConfig } from '../config.js';

/** GET /health reads the configuration alone: no store, no SDK client in its bundle. */
export interface HealthWiring {
  config: Config;
}

function createHealthWiring(config: Config): HealthWiring {
  return { config };
}

let production: HealthWiring | undefined;

/** The wiring of the deployed health function, built once per cold start. */
export function productionHealthWiring(): HealthWiring {
  production ??= createHealthWiring(productionConfig());
  return production;
}
