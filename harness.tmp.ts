import { VirtualFleetHarness } from './src/local/in-memory-ports.js';
import { generateFleetTrace, parseTraceLine } from './test/fixtures/aws-model/index.js';
const trace = generateFleetTrace({ devices: 41, hours: 24, seed: 20_261_101 });
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  const h = new VirtualFleetHarness({ startAt: trace.startAt });
  for (const line of trace.lines) { const p = parseTraceLine(line); if (p.ok && p.event.kind !== 'connect_failed') await h.deliver({ at: line.at, deviceEvent: p.event }); }
  await h.finish();
  const s = (performance.now() - t) / 1000;
  console.error(trace.lines.length, (trace.lines.length / s).toFixed(0), 'lines/s harness');
}
