import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The storms of test/load take minutes: `npm run test:load` runs them on their own.
    include: process.env.IOT_PRESENCE_LOAD_TESTS
      ? ['test/load/**/*.test.ts']
      : ['test/{unit,bundle,integration,e2e,artifact}/**/*.test.ts', 'dashboard/test/**/*.test.ts'],
    // Integration and e2e files each start their own DynamoDB Local (a JVM): two at a time fits 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 240_000,
    // Console output of a test (and of the hooks of its file) is shown only when it fails: the fault-injection
    // tests log ERROR lines with stack traces on purpose, and Powertools warns "No application metrics" whenever an
    // invocation emits none. A failing test keeps all of its output, next to its error.
    silent: 'passed-only',
    // `npm test` runs with --coverage: the domain (the presence rules, the reconciler) is held to 100% of its lines
    // and branches. A targeted run (`npx vitest run <files>`) measures nothing unless asked.
    coverage: {
      provider: 'v8',
      include: ['src/domain/**'],
      // One table line per file below 100% and the totals: a fully covered domain costs two lines of output.
      reporter: [['text', { skipFull: true }]],
      thresholds: { 'src/domain/**': { lines: 100, branches: 100 } },
    },
    // The summary lists a passed test under its file only when it took longer than this: the long end-to-end ones.
    slowTestThreshold: 10_000,
    env: {
      // The AWS SDK warns once per process, in a 9-line block, that its releases after January 2027 will need
      // Node 22; the project supports Node 20 until then (package.json engines), so that one warning is switched off
      // with the SDK's own switch for it. Every other process warning still prints.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_DEV: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
  },
});
