import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { packagingEnvironment } from '../test/fixtures/serverless-template.js';
import { type BenchOutcome, fmt, median, progress, round } from './support.js';

const execFileAsync = promisify(execFile);
const projectRoot = fileURLToPath(new URL('../', import.meta.url));

export interface ColdStartSizes {
  /** Fresh-process imports per bundle. */
  runs: number;
  /**
   * One import of every bundle first, not timed (the file cache). The quick run leaves it out: the bundles were just
   * unzipped, so their files are in the cache already, and each spawn costs about 0.15 s of CPU.
   */
  warmUp: boolean;
}

interface PackagedFunction {
  name: string;
  /** e.g. src/functions/getDevice.handler */
  handler: string;
  entry: string;
  zipPath: string;
}

interface FunctionFigures {
  name: string;
  zipKB: number;
  bundleKB: number;
  esbuildBundleKB: number;
  importMs: number;
  importCpuMs: number;
  importRunsMs: number[];
  importCpuRunsMs: number[];
  /** Median of the paired ratios of import CPU time (the budgeted one). */
  ratio: number;
  /** Median of the paired ratios of import wall time, for comparison. */
  wallRatio: number;
  topModules: Array<{ module: string; KB: number }>;
  topPackages: Array<{ package: string; KB: number }>;
}

/** The budget: no function's import costs more than 1.5 times the baseline's. */
const RATIO_BUDGET = 1.5;
/**
 * A ratio over the budget or within this share of it gets more pairs, up to EXTRA_PAIRS of them: a verdict against a
 * function is confirmed before it is given (load only ever adds CPU time to one side of a pair).
 */
const CLOSE_TO_BUDGET = 0.1;
const EXTRA_PAIRS = 4;

/** Configuration any function accepts at cold start (src/config.ts); nothing here is ever contacted. */
const FUNCTION_ENV: Record<string, string> = {
  EVENTS_TABLE: 'bench-events',
  DEVICES_TABLE: 'bench-devices',
  ALERTS_TABLE: 'bench-alerts',
  REJECTED_TABLE: 'bench-rejected',
  UPTIME_TABLE: 'bench-uptime',
  ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:bench-alerts',
  CHECK_QUEUE_URL: 'http://127.0.0.1:9/000000000000/bench-checks',
  CURSOR_SIGNING_KEY: 'bench-cursor-signing-key-0123456789',
  INGEST_DLQ_URL: 'http://127.0.0.1:9/000000000000/bench-dlq',
  RECONCILE_DLQ_URL: 'http://127.0.0.1:9/000000000000/bench-reconcile-dlq',
  INGEST_PRESENCE_FUNCTION_NAME: 'bench-ingestPresence',
  INGEST_DEVICE_MESSAGE_FUNCTION_NAME: 'bench-ingestDeviceMessage',
  POWERTOOLS_SERVICE_NAME: 'iot-presence',
  POWERTOOLS_METRICS_NAMESPACE: 'IotPresence',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_EC2_METADATA_DISABLED: 'true',
};

/** The minimal handler of the baseline: only the DynamoDB document client, created at module scope. */
const MINIMAL_HANDLER = `
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export const handler = async (event) =>
  dynamo.send(new GetCommand({ TableName: process.env.DEVICES_TABLE, Key: { deviceId: String(event.id) } }));
`;

interface ServerlessState {
  service: {
    custom?: { esbuild?: Record<string, unknown> };
    functions: Record<string, { handler: string }>;
  };
}

/** serverless-esbuild's own options become esbuild options (it strips them the same way). */
function esbuildOptionsFrom(custom: Record<string, unknown>): BuildOptions {
  const {
    exclude: _exclude,
    outputFileExtension,
    packager: _packager,
    packagerOptions: _packagerOptions,
    concurrency: _concurrency,
    zipConcurrency: _zipConcurrency,
    nativeZip: _nativeZip,
    installExtraArgs: _installExtraArgs,
    watch: _watch,
    keepOutputDirectory: _keep,
    skipBuild: _skipBuild,
    skipBuildExcludeFns: _skipBuildExcludeFns,
    stripEntryResolveExtensions: _strip,
    disposeContext: _dispose,
    config: _config,
    outputWorkFolder: _outputWorkFolder,
    outputBuildFolder: _outputBuildFolder,
    ...options
  } = custom;
  return {
    ...(options as BuildOptions),
    ...(typeof outputFileExtension === 'string' ? { outExtension: { '.js': outputFileExtension } } : {}),
    logLevel: 'silent',
  };
}

function topInputs(output: Metafile['outputs'][string] | undefined) {
  const inputs = Object.entries(output?.inputs ?? {}).map(([module, info]) => ({
    module,
    bytes: info.bytesInOutput,
  }));
  const byPackage = new Map<string, number>();
  for (const { module, bytes } of inputs) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module);
    const name = match?.[1] ?? '(project)';
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytes);
  }
  const kb = (bytes: number) => round(bytes / 1024, 1);
  return {
    modules: inputs
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 5)
      .map(({ module, bytes }) => ({ module, KB: kb(bytes) })),
    packages: [...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([name, bytes]) => ({ package: name, KB: kb(bytes) })),
    outputBytes: output?.bytes ?? 0,
  };
}

/** One import of a bundle in a fresh process: its wall time and the CPU time the process spent on it. */
interface ImportTime {
  wallMs: number;
  cpuMs: number;
}

/**
 * Imports a bundle in a fresh Node process (no inherited NODE_OPTIONS or loaders) and returns the import's wall time
 * and CPU time (process.cpuUsage around the import: every thread of the process, V8's compiler threads included).
 */
async function importTime(file: string): Promise<ImportTime> {
  const script =
    'const c = process.cpuUsage(); const t = performance.now(); await import(process.env.BENCH_IMPORT_URL); ' +
    'const wallMs = performance.now() - t; const { user, system } = process.cpuUsage(c); ' +
    'process.stdout.write(JSON.stringify({ wallMs, cpuMs: (user + system) / 1000 }));';
  const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? tmpdir(),
      ...FUNCTION_ENV,
      BENCH_IMPORT_URL: pathToFileURL(file).href,
    },
    timeout: 60_000,
  });
  const { wallMs, cpuMs } = JSON.parse(stdout.trim()) as Partial<ImportTime>;
  if (!Number.isFinite(wallMs) || !Number.isFinite(cpuMs))
    throw new Error(`could not time the import of ${file}: ${stdout}`);
  return { wallMs: wallMs as number, cpuMs: cpuMs as number };
}

/** What `serverless package` builds from: a package built from the same files is the same package. */
const PACKAGE_INPUTS = [
  'src',
  'infra',
  'serverless.yml',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
];
const packageCache = join(projectRoot, 'node_modules', '.cache', 'iot-presence-bench');

/**
 * A hash of every file `serverless package` reads from the project (tracked or not, ignored files left out) and
 * of the environment variables it reads.
 */
async function packageInputsHash(): Promise<string> {
  const { stdout } = await execFileAsync(
    'git',
    ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', ...PACKAGE_INPUTS],
    { cwd: projectRoot, maxBuffer: 16 * 1024 * 1024 },
  );
  const hash = createHash('sha256');
  // The environment variables serverless.yml reads (${env:NAME}) as packaging sets them.
  const environment = packagingEnvironment();
  const yml = await readFile(join(projectRoot, 'serverless.yml'), 'utf8');
  for (const name of [...new Set(yml.match(/(?<=\$\{env:)\w+/g) ?? [])].sort())
    hash.update(`${name}=${environment[name] ?? ''}\0`);
  for (const file of stdout.split('\0').filter(Boolean).sort()) {
    const content = await readFile(join(projectRoot, file)).catch(() => undefined);
    if (content === undefined) continue; // deleted in the work tree
    hash.update(`${file}\0${content.length}\0`).update(content);
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Runs `serverless package` into `packageDir`, unless a package of the very same sources is kept from an earlier
 * run (node_modules/.cache): then that one is copied (about 12 s of the quick run saved). Returns whether it was.
 */
async function packageOnce(packageDir: string): Promise<boolean> {
  const key = await packageInputsHash();
  const kept = join(packageCache, `package-${key}`);
  if (await stat(join(kept, 'serverless-state.json')).catch(() => undefined)) {
    await cp(kept, packageDir, { recursive: true });
    return true;
  }
  // serverless-esbuild works in .esbuild/ of the project: a packaging run of someone else at the same moment can
  // collide with this one, so a failed run is tried once more.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await rm(packageDir, { recursive: true, force: true });
      await execFileAsync('npx', ['serverless', 'package', '--stage', 'bench', '--package', packageDir], {
        cwd: projectRoot,
        env: packagingEnvironment(),
        timeout: 240_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      break;
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      if (attempt < 2) {
        progress('cold start: serverless package failed; trying once more');
        continue;
      }
      throw new Error(`serverless package failed:\n${stdout}\n${stderr}`, { cause: error });
    }
  }
  // Only the last package is kept.
  await rm(packageCache, { recursive: true, force: true });
  await mkdir(packageCache, { recursive: true });
  await cp(packageDir, kept, { recursive: true });
  return false;
}

/**
 * Bundle size as `serverless package` builds it, and the time to import each bundle in a fresh Node process,
 * against a minimal handler that only imports the DynamoDB document client, built with the same esbuild options.
 */
export async function benchColdStart(sizes: ColdStartSizes): Promise<BenchOutcome> {
  const work = await mkdtemp(join(tmpdir(), 'iot-presence-bench-'));
  try {
    const packageDir = join(work, 'package');
    const packaging = performance.now();
    const reused = await packageOnce(packageDir);
    const packagingSeconds = (performance.now() - packaging) / 1000;
    progress(
      reused
        ? `cold start: the package of the same sources reused (${fmt(packagingSeconds, 1)} s)`
        : `cold start: serverless package took ${fmt(packagingSeconds, 1)} s`,
    );

    const state = JSON.parse(
      await readFile(join(packageDir, 'serverless-state.json'), 'utf8'),
    ) as ServerlessState;
    const options = esbuildOptionsFrom(state.service.custom?.esbuild ?? {});
    const functions: PackagedFunction[] = Object.entries(state.service.functions).map(([name, fn]) => {
      const modulePath = fn.handler.slice(0, fn.handler.lastIndexOf('.'));
      return {
        name,
        handler: fn.handler,
        entry: `${modulePath}.ts`,
        zipPath: join(packageDir, `${name}.zip`),
      };
    });

    // Extract each function's .mjs bundle from its zip.
    const bundles = new Map<string, string>();
    for (const fn of functions) {
      const dir = join(work, 'functions', fn.name);
      await mkdir(dir, { recursive: true });
      await execFileAsync('unzip', ['-q', '-o', fn.zipPath, '-d', dir]);
      const modulePath = fn.handler.slice(0, fn.handler.lastIndexOf('.'));
      bundles.set(fn.name, join(dir, `${modulePath}.mjs`));
    }

    // The baseline bundle, and each handler again with a metafile, with the same options.
    const minimalFile = join(work, 'minimal', 'minimal-handler.mjs');
    await build({
      ...options,
      stdin: {
        contents: MINIMAL_HANDLER,
        resolveDir: projectRoot,
        loader: 'js',
        sourcefile: 'minimal-handler.js',
      },
      outfile: minimalFile,
    });
    // Every function in one build (esbuild bundles them side by side); each output is a bundle of its own.
    const { metafile } = await build({
      ...options,
      absWorkingDir: projectRoot,
      entryPoints: functions.map((fn) => fn.entry),
      outdir: join(work, 'meta'),
      write: false,
      metafile: true,
    });
    const outputsByEntry = new Map(
      Object.values(metafile.outputs).map((output) => [output.entryPoint, output] as const),
    );
    const metas = new Map(functions.map((fn) => [fn.name, topInputs(outputsByEntry.get(fn.entry))]));

    // Import times: one warm-up import of every bundle (file cache) unless told otherwise, then `runs` rounds in
    // which every function's import is paired with a baseline import started at the same moment. The ratio is the
    // median of the paired ratios of CPU time (process.cpuUsage around the import, in the child): wall time on a
    // shared machine swung the ratio of one bundle from x0.8 to x1.7 between runs, CPU time hardly moves with load.
    // A function whose ratio is still near or over the budget after the rounds gets more pairs (up to EXTRA_PAIRS).
    const baselineRuns: ImportTime[] = [];
    const times = new Map<string, ImportTime[]>(functions.map((fn) => [fn.name, []]));
    const pairRatios = new Map<string, { cpu: number[]; wall: number[] }>(
      functions.map((fn) => [fn.name, { cpu: [], wall: [] }]),
    );
    const pair = async (fn: PackagedFunction) => {
      // Side by side, one process a core: whatever else loads the machine meets both at the same moment.
      const [base, own] = await Promise.all([
        importTime(minimalFile),
        importTime(bundles.get(fn.name) as string),
      ]);
      baselineRuns.push(base);
      times.get(fn.name)?.push(own);
      pairRatios.get(fn.name)?.cpu.push(own.cpuMs / base.cpuMs);
      pairRatios.get(fn.name)?.wall.push(own.wallMs / base.wallMs);
    };
    await importTime(minimalFile);
    if (sizes.warmUp) for (const fn of functions) await importTime(bundles.get(fn.name) as string);
    for (let runIndex = 0; runIndex < sizes.runs; runIndex += 1) {
      for (const fn of functions) await pair(fn);
      progress(`cold start: import round ${runIndex + 1}/${sizes.runs}`);
    }
    const cpuRatio = (fn: PackagedFunction) => median(pairRatios.get(fn.name)?.cpu ?? []);
    const close = (fn: PackagedFunction) => cpuRatio(fn) >= RATIO_BUDGET * (1 - CLOSE_TO_BUDGET);
    for (let extra = 0; extra < EXTRA_PAIRS; extra += 1) {
      const near = functions.filter(close);
      if (near.length === 0) break;
      progress(
        `cold start: another pair for ${near.map((fn) => fn.name).join(', ')} (ratio near or over ${RATIO_BUDGET})`,
      );
      for (const fn of near) await pair(fn);
    }
    const baselineMs = median(baselineRuns.map((run) => run.wallMs));
    const baselineCpuMs = median(baselineRuns.map((run) => run.cpuMs));
    const baselineKB = (await stat(minimalFile)).size / 1024;

    const perFunction: FunctionFigures[] = [];
    for (const fn of functions) {
      const zip = await stat(fn.zipPath);
      const bundle = await stat(bundles.get(fn.name) as string);
      const meta = metas.get(fn.name);
      const runs = times.get(fn.name) ?? [];
      perFunction.push({
        name: fn.name,
        zipKB: round(zip.size / 1024, 1),
        bundleKB: round(bundle.size / 1024, 1),
        esbuildBundleKB: round((meta?.outputBytes ?? 0) / 1024, 1),
        importMs: round(median(runs.map((run) => run.wallMs)), 1),
        importCpuMs: round(median(runs.map((run) => run.cpuMs)), 1),
        importRunsMs: runs.map((run) => round(run.wallMs, 1)),
        importCpuRunsMs: runs.map((run) => round(run.cpuMs, 1)),
        ratio: round(cpuRatio(fn), 3),
        wallRatio: round(median(pairRatios.get(fn.name)?.wall ?? []), 3),
        topModules: meta?.modules ?? [],
        topPackages: meta?.packages ?? [],
      });
    }
    const worst = perFunction.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const failing = perFunction.filter((f) => f.ratio > RATIO_BUDGET);
    return {
      figures: {
        packagingSeconds: round(packagingSeconds, 1),
        packageReused: reused,
        nodeVersion: process.version,
        runsPerBundle: sizes.runs,
        baseline: {
          what: 'DynamoDBDocumentClient only, created at module scope, same esbuild options',
          bundleKB: round(baselineKB, 1),
          importMs: round(baselineMs, 1),
          importCpuMs: round(baselineCpuMs, 1),
          importRunsMs: baselineRuns.map((run) => round(run.wallMs, 1)),
          importCpuRunsMs: baselineRuns.map((run) => round(run.cpuMs, 1)),
        },
        functions: perFunction,
      },
      summary: [
        `baseline ${fmt(baselineKB, 0)} KB, import ${fmt(baselineMs, 1)} ms, ${fmt(baselineCpuMs, 1)} ms of CPU (median of ${baselineRuns.length})`,
        ...perFunction.map(
          (f) =>
            `${f.name}: ${fmt(f.bundleKB, 0)} KB (zip ${fmt(f.zipKB, 0)} KB), ${fmt(f.importMs, 1)} ms, ${fmt(f.importCpuMs, 1)} ms of CPU, x${fmt(f.ratio, 2)} (wall x${fmt(f.wallRatio, 2)})`,
        ),
      ],
      ratio: worst.ratio,
      ratioMeaning: `worst function (${worst.name}): median of paired import CPU times ÷ minimal DynamoDB-client handler`,
      budget: `ratio <= ${RATIO_BUDGET} for every function`,
      pass: failing.length === 0,
      notes: [
        `bundles from \`serverless package --stage bench\` (${reused ? 'reused: same sources as the last run' : `${fmt(packagingSeconds, 1)} s`}); import timed in a fresh node ${process.version} process, beside a baseline import; ratio: CPU time (wallRatio: wall time, for comparison)`,
        ...(failing.length > 0
          ? [`over budget: ${failing.map((f) => `${f.name} x${fmt(f.ratio, 2)}`).join(', ')}`]
          : []),
      ],
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
