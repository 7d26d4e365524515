import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReconcilerWiring } from '../../src/composition/reconciler.js';
import type { DeviceView } from '../../src/domain/evaluate.js';
import { seededRandom } from '../../src/shared/seeded-random.js';
import { generateFleetTrace } from '../fixtures/aws-model/index.js';
import { faultyClient } from '../fixtures/faulty-dynamodb.js';
import { apiEvent, callApi, startVirtualStack, type VirtualStack } from '../fixtures/virtual-runtime.js';

let stack: VirtualStack;

beforeAll(async () => {
  stack = await startVirtualStack();
});

afterAll(async () => {
  await stack?.stop();
});

async function listAll(status: DeviceView['status']) {
  const items: Array<{ deviceId: string; settled: boolean; disconnectReason: string | null }> = [];
  let cursor: string | undefined;
  do {
    const page = await callApi(
      stack.runtime.handlers.listDevices,
      apiEvent('/devices', {}, { status, limit: '100', ...(cursor ? { cursor } : {}) }),
    );
    items.push(...(page.body.items as typeof items));
    cursor = (page.body.cursor as string | null) ?? undefined;
  } while (cursor);
  return items;
}

describe('GET /fleet', () => {
  it('counts exactly what a full listing finds, after concurrent reconcilers, redeliveries and lost responses', async () => {
    // Arrange: a generated fleet day, reconciled eight events at a time (a device's events may race each other),
    // each delivered twice, through a client that loses 10% of requests or responses; failed calls are retried.
    const trace = generateFleetTrace({ devices: 24, hours: 3, seed: 77, profile: 'mixed' });
    const random = seededRandom(9);
    let now = trace.startAt;
    const { clients, config } = stack.runtime.ports;
    const wiring = createReconcilerWiring(config, {
      ...clients,
      dynamo: faultyClient(clients.dynamo, random, 0.1),
      scheduler: { scheduleCheck: async () => undefined },
      clock: { now: () => now },
    });
    const reconcile = async (deviceId: string, events: Parameters<typeof wiring.reconciler.reconcile>[1]) => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await wiring.reconciler.reconcile(deviceId, events);
        } catch (error) {
          if (attempt > 30) throw error;
        }
      }
    };
    const lines = trace.deliveries.filter((line) => line.deviceEvent.kind !== 'connect_failed');
    // Act
    for (let i = 0; i < lines.length; i += 8) {
      const batch = lines.slice(i, i + 8);
      now = Math.max(now, ...batch.map((line) => line.at));
      await Promise.all(
        [...batch, ...batch].map((line) => reconcile(line.deviceEvent.deviceId, [line.deviceEvent])),
      );
    }
    now = trace.horizon + 3_600_000;
    const deviceIds = [...new Set(lines.map((line) => line.deviceEvent.deviceId))];
    await Promise.all(deviceIds.map((deviceId) => reconcile(deviceId, [])));
    const fleet = await callApi(stack.runtime.handlers.fleet, apiEvent('/fleet'));
    const connected = await listAll('connected');
    const disconnected = await listAll('disconnected');
    // Assert
    const byReason: Record<string, number> = {};
    for (const device of disconnected) {
      const reason = device.disconnectReason ?? 'UNKNOWN';
      byReason[reason] = (byReason[reason] ?? 0) + 1;
    }
    expect(connected.length + disconnected.length).toBe(deviceIds.length);
    expect(fleet.body).toMatchObject({
      connected: connected.length,
      disconnected: disconnected.length,
      unsettled: [...connected, ...disconnected].filter((d) => !d.settled).length,
      disconnectedByReason: byReason,
    });
  });
});
