import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiWiring } from '../../src/composition/api.js';
import { buildDeviceUptimeHandler } from '../../src/handlers/device-uptime.js';
import { expectedUptime, generateFleetTrace } from '../fixtures/aws-model/index.js';
import { faultyReconciler } from '../fixtures/faulty-reconciler.js';
import { apiEvent, callApi, startVirtualStack, type VirtualStack } from '../fixtures/virtual-runtime.js';

let stack: VirtualStack;

beforeAll(async () => {
  stack = await startVirtualStack();
});

afterAll(async () => {
  await stack?.stop();
});

interface DayBody {
  date: string;
  known: boolean;
  connectedSeconds: number;
  disconnectedSeconds: number;
  outages: number;
  longestOutageSeconds: number;
}

describe('GET /devices/{deviceId}/uptime', () => {
  it('reports every day of a three-day fleet as the oracle does, after concurrent reconcilers, redeliveries and lost responses', async () => {
    // Arrange: a generated fleet over three UTC days, in stream batches of eight events: each device's events of a
    // batch in one reconcile, as the stream handler does, each call made twice at once (at-least-once), through a
    // client that loses 10% of requests or responses; failed calls are retried.
    const trace = generateFleetTrace({ devices: 12, hours: 60, seed: 31, profile: 'day-outages' });
    const reconciler = faultyReconciler(stack, 5, trace.startAt);
    const lines = trace.deliveries.filter((line) => line.deviceEvent.kind !== 'connect_failed');
    // Act
    const deviceIds = await reconciler.replayInStreamBatches(lines);
    const now = trace.horizon + 3_600_000;
    await reconciler.checkAllAt(now, deviceIds);
    const { clients, config } = stack.runtime.ports;
    const clock = { now: () => now };
    const uptime = buildDeviceUptimeHandler(createApiWiring(config, { dynamo: clients.dynamo, clock }));
    const expected = expectedUptime(
      trace.histories,
      lines.map((line) => ({ at: line.at, event: line.deviceEvent })),
      now,
    );
    // Assert
    const problems: string[] = [];
    let outages = 0;
    for (const deviceId of deviceIds) {
      const days = expected.get(deviceId) ?? new Map();
      const dates = [...days.keys()];
      const response = await callApi(
        uptime,
        apiEvent(
          `/devices/${deviceId}/uptime`,
          { deviceId },
          { from: dates[0] ?? '', to: dates.at(-1) ?? '' },
        ),
      );
      for (const day of response.body.days as DayBody[]) {
        const want = days.get(day.date);
        const got = [day.connectedSeconds, day.disconnectedSeconds, day.outages, day.longestOutageSeconds];
        const wanted = want && [
          Math.round(want.connectedMs / 1000),
          Math.round(want.disconnectedMs / 1000),
          want.outages,
          Math.round(want.longestOutageMs / 1000),
        ];
        if (JSON.stringify(got) !== JSON.stringify(wanted))
          problems.push(`${deviceId} ${day.date}: got ${got}, expected ${wanted}`);
        outages += day.outages;
      }
    }
    expect(problems).toEqual([]);
    expect(dayCount(expected)).toBeGreaterThanOrEqual(3 * deviceIds.length);
    expect(outages).toBeGreaterThan(0);
  });

  it('answers an unknown device with 404 and a bad range with 400, in plain words', async () => {
    // Arrange
    const handler = stack.runtime.handlers.deviceUptime;
    // Act
    const unknown = await callApi(handler, apiEvent('/devices/nobody/uptime', { deviceId: 'nobody' }));
    const tooLong = await callApi(
      handler,
      apiEvent('/devices/x/uptime', { deviceId: 'x' }, { from: '2026-01-01', to: '2026-06-01' }),
    );
    const reversed = await callApi(
      handler,
      apiEvent('/devices/x/uptime', { deviceId: 'x' }, { from: '2026-02-02', to: '2026-02-01' }),
    );
    const notADate = await callApi(
      handler,
      apiEvent('/devices/x/uptime', { deviceId: 'x' }, { from: '2026-02-30' }),
    );
    // Assert
    expect(unknown.statusCode).toBe(404);
    expect([tooLong.statusCode, reversed.statusCode, notADate.statusCode]).toEqual([400, 400, 400]);
    expect(JSON.stringify(tooLong.body)).toContain('at most 90 days');
    expect(JSON.stringify(reversed.body)).toContain('from must not be after to');
    expect(JSON.stringify(notADate.body)).toContain('from is not a real date');
  });
});

function dayCount(expected: Map<string, Map<string, unknown>>): number {
  return [...expected.values()].reduce((n, days) => n + days.size, 0);
}
