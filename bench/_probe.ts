import { benchIngest } from './ingest.js';
import { startBenchStack } from './stack.js';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
const stack = await startBenchStack();
try {
  const r = await benchIngest(stack, { rounds: 8, eventsPerRound: 1000, warmupEvents: 1500, concurrency: 16 });
  const f = r.figures as Record<string, unknown>;
  console.log(JSON.stringify({ h: f.handlerEventsPerSecond, raw: f.rawPutItemPerSecond, cond: f.conditionalPutItemPerSecond, r1: f.roundRatiosVsRaw, r2: f.roundRatiosVsConditional, cpu: f.nodeCpuMsPerEvent, req: f.dynamodbRequestsPerEvent }));
} finally { await stack.stop(); }
