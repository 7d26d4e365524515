import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { lambdaContext } from '../src/local/lambda-context.js';
import { seededRandom } from '../test/fixtures/aws-model/index.js';
import { apiEvent } from '../test/fixtures/virtual-runtime.js';
import { seedIdleFleet } from './fleet.js';
import type { BenchStack } from './stack.js';
import { type BenchOutcome, fmt, mean, percentile, progress, round } from './support.js';

export interface StatusSizes {
  gets: number;
  pages: number;
  /** Device ids that exist (the idle fleet), to GET at random. */
  deviceIds: (index: number) => string;
  fleet: number;
}

interface Page {
  requests: number;
  /** Queries of the settled-status index (keys only). */
  queries: number;
  /** Pages of the table read (the connected list). */
  scans: number;
  /** BatchGetItem requests of the listed devices' records. */
  batchGets: number;
  items: number;
  ms: number;
}

type ApiHandler = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

async function call(handler: ApiHandler, event: unknown, name: string) {
  const started = performance.now();
  const response = (await handler(event, lambdaContext(name))) as { statusCode: number; body: string };
  return { ms: performance.now() - started, statusCode: response.statusCode, body: response.body };
}

/** Walks `GET /devices?status=` page by page (following cursors), counting DynamoDB requests per page. */
async function walk(stack: BenchStack, status: string, limit: number, maxPages: number): Promise<Page[]> {
  const handler = stack.runtime.handlers.listDevices as ApiHandler;
  const pages: Page[] = [];
  let cursor: string | undefined;
  do {
    const stop = stack.meter.start();
    const response = await call(
      handler,
      apiEvent('/devices', {}, { status, limit: String(limit), ...(cursor ? { cursor } : {}) }),
      'listDevices',
    );
    const measured = stop();
    if (response.statusCode !== 200) throw new Error(`listDevices answered ${response.statusCode}`);
    const body = JSON.parse(response.body) as { items: unknown[]; cursor: string | null };
    pages.push({
      requests: measured.dynamodb,
      queries: measured.requests['dynamodb.QueryCommand'] ?? 0,
      scans: measured.requests['dynamodb.ScanCommand'] ?? 0,
      batchGets: measured.requests['dynamodb.BatchGetItemCommand'] ?? 0,
      items: body.items.length,
      ms: response.ms,
    });
    if (measured.dynamodb !== measured.dynamodbReads) throw new Error('listDevices wrote to DynamoDB');
    cursor = body.cursor ?? undefined;
  } while (cursor && pages.length < maxPages);
  return pages;
}

function pageStats(pages: readonly Page[]) {
  const queries = pages.map((p) => p.queries);
  const ms = pages.map((p) => p.ms);
  return {
    pages: pages.length,
    items: pages.reduce((sum, p) => sum + p.items, 0),
    meanQueriesPerPage: round(mean(queries), 3),
    maxQueriesPerPage: Math.max(...queries),
    pagesWithOneQuery: pages.filter((p) => p.queries === 1).length,
    meanRequestsPerPage: round(mean(pages.map((p) => p.requests)), 3),
    maxScansPerPage: Math.max(...pages.map((p) => p.scans)),
    maxBatchGetsPerPage: Math.max(...pages.map((p) => p.batchGets)),
    p50Ms: round(percentile(ms, 50), 2),
    p99Ms: round(percentile(ms, 99), 2),
  };
}

/**
 * DynamoDB requests and latency through the HTTP handlers with API Gateway v2 events: GET /devices/{id} on random
 * devices of the fleet, and GET /devices?status= page after page.
 */
export async function benchStatusApi(stack: BenchStack, sizes: StatusSizes): Promise<BenchOutcome> {
  const getDevice = stack.runtime.handlers.getDevice as ApiHandler;
  // Run on its own (`npm run bench -- status-api`), it seeds the idle fleet the reconcile entry leaves behind.
  const last = sizes.deviceIds(sizes.fleet - 1);
  const { Item } = await stack.plainDynamo.send(
    new GetCommand({ TableName: stack.runtime.ports.config.DEVICES_TABLE, Key: { deviceId: last } }),
  );
  if (!Item) {
    const { ports } = stack.runtime;
    await seedIdleFleet(
      stack.plainDynamo,
      ports.config.DEVICES_TABLE,
      { from: 0, to: sizes.fleet },
      stack.timers.now(),
      ports.settings,
    );
    progress(`status API: ${sizes.fleet} idle devices seeded`);
  }
  const random = seededRandom(4242);
  const latencies: number[] = [];
  const reads: number[] = [];
  let requests = 0;
  let notFound = 0;
  // Warm-up (not measured).
  for (let i = 0; i < 20; i += 1) {
    const id = sizes.deviceIds(i);
    await call(getDevice, apiEvent(`/devices/${id}`, { deviceId: id }), 'getDevice');
  }
  for (let i = 0; i < sizes.gets; i += 1) {
    const id = sizes.deviceIds(Math.floor(random() * sizes.fleet));
    const stop = stack.meter.start();
    const response = await call(getDevice, apiEvent(`/devices/${id}`, { deviceId: id }), 'getDevice');
    const measured = stop();
    if (response.statusCode === 404) notFound += 1;
    else if (response.statusCode !== 200) throw new Error(`getDevice answered ${response.statusCode}`);
    latencies.push(response.ms);
    reads.push(measured.dynamodbReads);
    requests += measured.dynamodb;
  }
  progress(`status API: ${sizes.gets} GET /devices/{id}`);
  const connected = pageStats(await walk(stack, 'connected', 25, sizes.pages));
  progress(`status API: ${connected.pages} pages of GET /devices?status=connected`);
  const disconnected = pageStats(await walk(stack, 'disconnected', 25, sizes.pages));
  progress(`status API: ${disconnected.pages} pages of GET /devices?status=disconnected`);

  const readsPerGet = requests / sizes.gets;
  const get = {
    calls: sizes.gets,
    notFound,
    dynamodbRequestsPerCall: round(readsPerGet, 3),
    maxReadsPerCall: Math.max(...reads),
    p50Ms: round(percentile(latencies, 50), 2),
    p99Ms: round(percentile(latencies, 99), 2),
  };
  const ratio = connected.meanRequestsPerPage;
  return {
    figures: {
      fleet: sizes.fleet,
      getDevice: get,
      listConnected: { limit: 25, ...connected },
      listDisconnected: { limit: 25, ...disconnected },
    },
    summary: [
      `GET /devices/{id}: ${fmt(readsPerGet, 2)} read/call, p50 ${fmt(get.p50Ms)} ms, p99 ${fmt(get.p99Ms)} ms`,
      `GET /devices?status=connected: ${fmt(connected.meanRequestsPerPage, 3)} request/page (one table page; mean of ${connected.pages}), p50 ${fmt(connected.p50Ms)} ms, p99 ${fmt(connected.p99Ms)} ms`,
      `status=disconnected (${disconnected.items} devices, sparse shards): ${fmt(disconnected.meanQueriesPerPage, 2)} index query + ${disconnected.maxBatchGetsPerPage} BatchGetItem/page`,
    ],
    ratio,
    ratioMeaning: 'mean DynamoDB requests per page of GET /devices?status=connected (the common case)',
    budget:
      '1 read per GET /devices/{id}; connected: ~1 table page per page (mean <= 1.1); disconnected: ~1 index query (mean <= 1.1) and 1 BatchGetItem per page',
    pass:
      readsPerGet <= 1 &&
      get.maxReadsPerCall <= 1 &&
      notFound === 0 &&
      ratio <= 1.1 &&
      (disconnected.items === 0 || disconnected.meanQueriesPerPage <= 1.1) &&
      disconnected.maxBatchGetsPerPage <= 1,
    notes: [
      'handlers: runtime.handlers.getDevice / listDevices with API Gateway v2 events, called in-process one at a time',
      'connected: the devices not listed as disconnected, read from the table a page at a time (docs/cost.md)',
      'disconnected: the sparse keys-only index, then the page’s records with one BatchGetItem; a page that ends one shard and starts the next costs one more query',
    ],
  };
}
