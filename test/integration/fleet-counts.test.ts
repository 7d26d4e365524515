import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FaultInjector, installFaults, NO_FAULTS } from '../../src/adapters/faults.js';
import { createApiWiring } from '../../src/composition/api.js';
import type { DeviceView } from '../../src/domain/evaluate.js';
import { buildGetDeviceHandler } from '../../src/handlers/get-device.js';
import { buildListDevicesHandler } from '../../src/handlers/list-devices.js';
import { seededRandom } from '../../src/shared/seeded-random.js';
import { generateFleetTrace } from '../fixtures/aws-model/index.js';
import { faultyReconciler } from '../fixtures/faulty-reconciler.js';
import { apiEvent, callApi, startVirtualStack, type VirtualStack } from '../fixtures/virtual-runtime.js';

let stack: VirtualStack;

beforeAll(async () => {
  stack = await startVirtualStack();
});

afterAll(async () => {
  await stack?.stop();
});

afterEach(() => {
  installFaults(new FaultInjector(NO_FAULTS));
});

/** Every device of a listing, each with its live view at `at`. */
async function listAll(status: DeviceView['status'], at: number) {
  const { config, clients } = stack.runtime.ports;
  const listDevices = buildListDevicesHandler(
    createApiWiring(config, { dynamo: clients.dynamo, clock: { now: () => at } }),
  );
  const items: Array<{ deviceId: string; settled: boolean; disconnectReason: string | null }> = [];
  let cursor: string | undefined;
  do {
    const page = await callApi(
      listDevices,
      apiEvent('/devices', {}, { status, limit: '100', ...(cursor ? { cursor } : {}) }),
    );
    items.push(...(page.body.items as typeof items));
    cursor = (page.body.cursor as string | null) ?? undefined;
  } while (cursor);
  return items;
}

/** What GET /fleet must say of the devices a full listing finds at `at`, the time they were last looked at. */
async function countsOfTheListing(at: number) {
  const connected = await listAll('connected', at);
  const disconnected = await listAll('disconnected', at);
  const byReason: Record<string, number> = {};
  for (const device of disconnected) {
    const reason = device.disconnectReason ?? 'UNKNOWN';
    byReason[reason] = (byReason[reason] ?? 0) + 1;
  }
  return {
    devices: connected.length + disconnected.length,
    counts: {
      connected: connected.length,
      disconnected: disconnected.length,
      unsettled: [...connected, ...disconnected].filter((d) => !d.settled).length,
      disconnectedByReason: byReason,
    },
  };
}

describe('GET /fleet', () => {
  it('counts exactly what a full listing finds, after concurrent reconcilers, redeliveries and lost responses', async () => {
    // Arrange
    const trace = generateFleetTrace({ devices: 24, hours: 3, seed: 77, profile: 'mixed' });
    const reconciler = faultyReconciler(stack, 9, trace.startAt);
    // Act
    const deviceIds = await reconciler.replayRacing(trace.deliveries);
    await reconciler.checkAllAt(trace.horizon + 3_600_000, deviceIds);
    await stack.runtime.flushFleetCounts();
    const fleet = await callApi(stack.runtime.handlers.fleet, apiEvent('/fleet'));
    const listed = await countsOfTheListing(trace.horizon + 3_600_000);
    // Assert
    expect(listed.devices).toBe(deviceIds.length);
    expect(fleet.body).toMatchObject(listed.counts);
    expect(fleet.body.disconnectedByReason).toEqual(listed.counts.disconnectedByReason);
  });

  it('adds every window of the devices stream once, when the counting function loses requests and responses and crashes after its work', async () => {
    // Arrange: a fleet reconciled in six parts; each part's device changes are counted in a window of their own,
    // while DynamoDB loses 10% of the requests or their responses and a fifth of the invocations crash after their
    // work (Lambda then runs the same window again).
    const trace = generateFleetTrace({ devices: 16, hours: 2, seed: 91, profile: 'flappy' });
    const reconciler = faultyReconciler(stack, 17, trace.startAt);
    const parts = 6;
    const size = Math.ceil(trace.deliveries.length / parts);
    const retriesBefore = stack.runtime.counters.retries;
    const deviceIds = new Set<string>();
    // Act
    for (let part = 0; part < parts; part += 1) {
      const lines = trace.deliveries.slice(part * size, (part + 1) * size);
      for (const deviceId of await reconciler.replayInStreamBatches(lines)) deviceIds.add(deviceId);
      installFaults(new FaultInjector({ ...NO_FAULTS, dynamodb: 0.1, crash: 0.2 }, seededRandom(part)));
      await stack.runtime.flushFleetCounts();
      installFaults(new FaultInjector(NO_FAULTS));
    }
    // Looked at after every episode's window, so that the fleet's other tests find none of these still going on.
    await reconciler.checkAllAt(trace.horizon + 2 * 3_600_000, [...deviceIds]);
    await stack.runtime.flushFleetCounts();
    const fleet = await callApi(stack.runtime.handlers.fleet, apiEvent('/fleet'));
    const listed = await countsOfTheListing(trace.horizon + 2 * 3_600_000);
    // Assert
    expect(stack.runtime.counters.retries).toBeGreaterThan(retriesBefore);
    expect(stack.runtime.deadLetters).toEqual([]);
    expect(fleet.body).toMatchObject(listed.counts);
    expect(fleet.body.disconnectedByReason).toEqual(listed.counts.disconnectedByReason);
  });

  it('counts the devices in a clientid-conflict or flapping episode as their own pages show them, until it ends', async () => {
    // Arrange: a fleet whose devices fight over their ids; looked at a minute after the first conflict alert is owed.
    const trace = generateFleetTrace({
      devices: 10,
      hours: 1,
      seed: 5,
      profile: 'fights',
      startAt: Date.UTC(2026, 10, 2),
    });
    const firstConflict = trace.expected.episodes.find((e) => e.type === 'clientid-conflict');
    if (!firstConflict) throw new Error('the generated fleet has no clientid fight');
    const middle = firstConflict.since + 60_000;
    const reconciler = faultyReconciler(stack, 13, trace.startAt);
    const { config, clients } = stack.runtime.ports;
    const inEpisodeOnTheirPages = async (deviceIds: readonly string[], at: number) => {
      const getDevice = buildGetDeviceHandler(
        createApiWiring(config, { dynamo: clients.dynamo, clock: { now: () => at } }),
      );
      const counts = { 'clientid-conflict': 0, flapping: 0 };
      for (const deviceId of deviceIds) {
        const page = await callApi(getDevice, apiEvent(`/devices/${deviceId}`, { deviceId }));
        for (const kind of page.body.episodes as Array<keyof typeof counts>) counts[kind] += 1;
      }
      return counts;
    };
    // Act
    const early = await reconciler.replayRacing(trace.deliveries.filter((line) => line.at <= middle));
    await reconciler.checkAllAt(middle, early);
    await stack.runtime.flushFleetCounts();
    const during = await callApi(stack.runtime.handlers.fleet, apiEvent('/fleet'));
    const duringPages = await inEpisodeOnTheirPages(early, middle);
    const all = await reconciler.replayRacing(trace.deliveries.filter((line) => line.at > middle));
    await reconciler.checkAllAt(trace.horizon + 2 * 3_600_000, [...new Set([...early, ...all])]);
    await stack.runtime.flushFleetCounts();
    const after = await callApi(stack.runtime.handlers.fleet, apiEvent('/fleet'));
    // Assert
    expect(duringPages['clientid-conflict']).toBeGreaterThan(0);
    expect(during.body.inEpisode).toEqual(duringPages);
    expect(after.body.inEpisode).toEqual({ 'clientid-conflict': 0, flapping: 0 });
  });
});
