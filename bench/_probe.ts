import { readFileSync } from 'node:fs';
import { benchIngest } from './ingest.js';
import { startBenchStack } from './stack.js';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
const stack = await startBenchStack();
const jvmCpu = () => { const f = readFileSync(`/proc/${stack.aws.pids[0]}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
try {
  for (const n of [1, 2]) {
    const c0 = process.cpuUsage(); const j0 = jvmCpu(); const t0 = performance.now();
    const r = await benchIngest(stack, { rounds: 4, eventsPerRound: 2000, warmupEvents: 2000, concurrency: 16 });
    const c = process.cpuUsage(c0); const wall = performance.now() - t0;
    console.log(n, JSON.stringify(r.figures.roundRatios), r.summary[0], 'node cpu s', (c.user + c.system) / 1e6, 'jvm cpu s', (jvmCpu() - j0) / 1000, 'wall', wall / 1000);
  }
} finally { await stack.stop(); }
