import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The storms of test/load take minutes: `npm run test:load` runs them on their own.
    include: process.env.IOT_PRESENCE_LOAD_TESTS
      ? ['test/load/**/*.test.ts']
      : ['test/{unit,integration,e2e,artifact}/**/*.test.ts', 'dashboard/test/**/*.test.ts'],
    // Integration and e2e files each start their own DynamoDB Local (a JVM): two at a time fits 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 240_000,
    env: {
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
  },
});
