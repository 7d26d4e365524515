import fc from 'fast-check';
import { it } from 'vitest';
import {
  fleetPlanArb,
  generateFleetTrace,
  scenarioFromPlans,
} from '/work/main/test/fixtures/device-history.js';
import { VirtualFleetHarness } from '/work/main/test/fixtures/in-memory-ports.js';

it('p', async () => {
  let t = Date.now();
  const tr = generateFleetTrace({ devices: 70, hours: 24, seed: 7 });
  console.log('gen', Date.now() - t, tr.lines.length, tr.expected.alerts.length);
  t = Date.now();
  const h = new VirtualFleetHarness();
  await h.deliverAll(tr.deliveries);
  await h.finish();
  console.log('replay', Date.now() - t, h.alerts().length, h.reconciles);
  const stats: Record<string, number> = {};
  const inc = (k: string, n = 1) => {
    stats[k] = (stats[k] ?? 0) + n;
  };
  for (const plans of fc.sample(fleetPlanArb(), { seed: 1, numRuns: 150 })) {
    const s = scenarioFromPlans(plans);
    inc('runs');
    inc('devices', s.histories.length);
    inc('lines', s.lines.length);
    inc('alerts', s.expected.alerts.length);
    if (s.expected.alerts.length) inc('runsWithAlerts');
    for (const h of s.histories) {
      for (const se of h.sessions) {
        inc('end:' + (se.endKind ?? 'open'));
        if (!se.connectedObserved) inc('preOnline');
      }
      for (const e of h.events)
        if (e.deliveries.length > 1)
          inc('dup' + (e.deliveries[1]! - e.deliveries[0]! >= 60000 ? 'late' : 'soon'));
      if (h.sessions.some((x, i) => i > 0 && x.versionNumber === 0)) inc('reset');
    }
    for (const d of s.expected.devices) inc('final:' + d.status);
  }
  console.log(stats);
}, 60000);
