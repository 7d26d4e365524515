/**
 * `npm run dashboard -- --stage prod [--region eu-west-1] [--api URL] [--port 3030] [--profile NAME]`
 *
 * Serves the dashboard on 127.0.0.1 and forwards its API calls to the stage's HTTP API, signed with SigV4 and
 * the SDK's default credential chain (environment, shared config and SSO, web identity, container, instance).
 * The API URL is the stack's HttpApiUrl output unless --api gives it.
 */
import { parseArgs } from 'node:util';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { startDashboardServer } from './dashboard-server.js';
import { signedApiForwarder } from './signed-api.js';
import { apiUrlFromStack, regionOfApiUrl, StackLookupError, stackName } from './stack-outputs.js';
import { DEFAULT_ASSETS_DIR, staticAssets } from './static-assets.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const USAGE = `usage: npm run dashboard -- --stage <stage> [--region <region>] [--api <url>] [--port <port>] [--profile <name>]

  --stage    the deployed stage (stack iot-presence-<stage>); its HttpApiUrl output is the API
  --region   default: AWS_REGION, AWS_DEFAULT_REGION, the region in --api's URL, else us-east-1
  --api      the HTTP API URL, instead of reading it from the stack
  --port     where the dashboard listens on 127.0.0.1 (default 3030; 0 picks a free port)
  --profile  a profile of the shared AWS config (default: AWS_PROFILE, else the default chain)`;

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

let values: ReturnType<typeof parse>['values'];
function parse() {
  return parseArgs({
    options: {
      stage: { type: 'string' },
      region: { type: 'string' },
      api: { type: 'string' },
      port: { type: 'string', default: '3030' },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}
try {
  values = parse().values;
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!values.stage && !values.api) fail(`give --stage (or --api)\n\n${USAGE}`);
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535)
  fail(`--port must be a port number, not "${values.port}"`);

const region =
  values.region ??
  process.env.AWS_REGION ??
  process.env.AWS_DEFAULT_REGION ??
  (values.api ? regionOfApiUrl(values.api) : undefined) ??
  'us-east-1';
const credentials = fromNodeProviderChain(values.profile ? { profile: values.profile } : {});

try {
  await credentials();
} catch (error) {
  fail(
    `no AWS credentials found (${error instanceof Error ? error.message : String(error)}).\n` +
      'Configure them as for the AWS CLI (environment, `aws configure`, `aws sso login`, --profile).',
  );
}

let apiUrl = values.api;
if (!apiUrl) {
  try {
    apiUrl = await apiUrlFromStack({ stage: values.stage as string, region, credentials });
  } catch (error) {
    if (error instanceof StackLookupError) fail(error.message);
    throw error;
  }
}
try {
  new URL(apiUrl);
} catch {
  fail(`--api must be a URL, not "${apiUrl}"`);
}

const server = await startDashboardServer({
  port,
  forward: signedApiForwarder({ apiUrl, region, credentials }),
  assets: staticAssets(DEFAULT_ASSETS_DIR),
  log: (line) => console.error(line),
}).catch((error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  fail(code === 'EADDRINUSE' ? `port ${port} is in use; pick another with --port` : String(error));
});

const what = values.stage ? `stage ${values.stage} (${stackName(values.stage)}, ${region})` : region;
console.log(
  [
    '',
    `iot-presence dashboard of ${what}`,
    '',
    `  open     ${server.url}/`,
    `  API      ${apiUrl}  (every call signed with SigV4 for execute-api)`,
    '',
    'It listens on 127.0.0.1 only and reads with your AWS credentials. Ctrl-C stops it.',
    '',
  ].join('\n'),
);

const shutdown = () => {
  server.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
