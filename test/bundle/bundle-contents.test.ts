import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A function's entry module, as its `handler` in serverless.yml names it (`src/functions/getDevice.handler`). */
function entryModule(functionName: string): string {
  const serverlessYml = readFileSync(`${projectRoot}serverless.yml`, 'utf8');
  const handler = new RegExp(`^  ${functionName}:\n    handler: (\\S+)\\.handler$`, 'm').exec(
    serverlessYml,
  )?.[1];
  if (!handler) throw new Error(`serverless.yml has no handler for ${functionName}`);
  return `${handler}.ts`;
}

/** The packages a function's bundle holds, built as serverless.yml's custom.esbuild does (bundle, ESM, node22). */
async function bundledPackages(functionName: string): Promise<Set<string>> {
  const result = await build({
    absWorkingDir: projectRoot,
    entryPoints: [entryModule(functionName)],
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    write: false,
    outdir: 'out',
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.entries(Object.values(result.metafile.outputs)[0]?.inputs ?? {});
  return new Set(
    inputs
      .filter(([, info]) => info.bytesInOutput > 0)
      .map(
        ([module]) => /node_modules\/((?:@[^/]+\/)?[^/]+\/(?:v4\/(?:classic|mini))?)/.exec(module)?.[1] ?? '',
      ),
  );
}

// The cold-start budget of GitHub issue 4: a function bundles only the SDK clients it uses, and zod/mini, not zod.
describe('what each function bundles', () => {
  it.each([
    ['ingestPresence'],
    ['ingestDeviceMessage'],
    ['getDevice'],
    ['listDevices'],
    ['listDeviceEvents'],
    ['listAlerts'],
  ])('%s holds the DynamoDB client only', async (functionName) => {
    const packages = [...(await bundledPackages(functionName))];
    expect(packages).toContain('@aws-sdk/client-dynamodb/');
    expect(packages.filter((p) => /client-(sns|sqs|lambda)|zod\/v4\/classic/.test(p))).toEqual([]);
  });

  it.each([['reconcileEvents'], ['settleCheck'], ['sweep']])(
    '%s holds the DynamoDB, SNS and SQS clients, not Lambda',
    async (functionName) => {
      const packages = [...(await bundledPackages(functionName))];
      expect(packages).toEqual(
        expect.arrayContaining(['@aws-sdk/client-dynamodb/', '@aws-sdk/client-sns/', '@aws-sdk/client-sqs/']),
      );
      expect(packages.filter((p) => /client-lambda|zod\/v4\/classic/.test(p))).toEqual([]);
    },
  );

  it('health holds no AWS SDK client', async () => {
    const packages = [...(await bundledPackages('health'))];
    expect(packages.filter((p) => /@aws-sdk\/client-|zod\/v4\/classic/.test(p))).toEqual([]);
  });

  // The redrive also reconciles the devices of parked stream batches: it holds the reconciler's clients too.
  it('redrive holds the SQS, Lambda, DynamoDB Streams, DynamoDB and SNS clients', async () => {
    const packages = [...(await bundledPackages('redrive'))];
    expect(packages).toEqual(
      expect.arrayContaining([
        '@aws-sdk/client-sqs/',
        '@aws-sdk/client-lambda/',
        '@aws-sdk/client-dynamodb-streams/',
        '@aws-sdk/client-dynamodb/',
        '@aws-sdk/client-sns/',
      ]),
    );
    expect(packages.filter((p) => /zod\/v4\/classic/.test(p))).toEqual([]);
  });
});
