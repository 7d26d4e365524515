import { quietForLocalRun } from './src/adapters/observability.js';

quietForLocalRun({ logLevel: 'WARN' });

import { VirtualFleetHarness } from './src/local/in-memory-ports.js';
import { replayTrace } from './src/local/replay.js';
import { generateFleetTrace, parseTraceLine } from './test/fixtures/aws-model/index.js';

const trace = generateFleetTrace({ devices: 41, hours: 24, seed: 20_261_101 });
const lines = trace.lines.map((l) => JSON.stringify(l));
for (let i = 0; i < Number(process.env.RUNS ?? 3); i++) {
  let t = performance.now();
  const c0 = process.cpuUsage();
  const r = await replayTrace(lines);
  const c = process.cpuUsage(c0);
  const s = (performance.now() - t) / 1000;
  console.error('cpu lines/s', (lines.length / ((c.user + c.system) / 1e6)).toFixed(0));
  t = performance.now();
  if (process.env.NOH) {
    console.error((lines.length / s).toFixed(0));
    continue;
  }
  const hc0 = process.cpuUsage();
  const h = new VirtualFleetHarness({ startAt: trace.startAt });
  for (const line of trace.lines) {
    const p = parseTraceLine(line);
    if (p.ok && p.event.kind !== 'connect_failed') await h.deliver({ at: line.at, deviceEvent: p.event });
  }
  await h.finish();
  const hs = (performance.now() - t) / 1000;
  const hc = process.cpuUsage(hc0);
  console.error('harness cpu lines/s', (lines.length / ((hc.user + hc.system) / 1e6)).toFixed(0));
  console.error(
    'runtime',
    (lines.length / s).toFixed(0),
    'lines/s; harness',
    (lines.length / hs).toFixed(0),
    'ratio',
    (hs / s).toFixed(2),
    r.alerts.length,
  );
}
