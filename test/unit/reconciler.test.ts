import { describe, expect, it } from 'vitest';
import { ConcurrentUpdateError } from '../../src/domain/errors.js';
import type { Alert, CommitResult, DeviceCommit, DeviceStore, OutboxFinder } from '../../src/domain/ports.js';
import { PUBLISH_LEASE_MS, Reconciler, sameData } from '../../src/domain/reconciler.js';
import { DEFAULT_SETTINGS } from '../../src/domain/settings.js';
import {
  connectedEvent,
  connectFailedEvent,
  disconnectedEvent,
  InMemoryAlertHistory,
  InMemoryCheckScheduler,
  InMemoryDeviceStore,
  InMemoryEventLog,
  InMemoryUptimeDays,
  RecordingAlertPublisher,
  VirtualClock,
  VirtualFleetHarness,
  willEvent,
} from '../../src/local/in-memory-ports.js';

const T = 1_793_520_000_000;
const DEVICE = 'thing-1';
const session = { deviceId: DEVICE, sessionIdentifier: 's-1', versionNumber: 1 };
/** A connection lost for good: an offline alert is owed once the settle window has passed. */
const lostConnection = [
  connectedEvent({ ...session, receivedAt: T }),
  disconnectedEvent({ ...session, receivedAt: T + 60_000, disconnectReason: 'CONNECTION_LOST' }),
];
const AFTER_SETTLING = T + 60_000 + DEFAULT_SETTINGS.settleWindowMs + 1_000;

/** The in-memory store, with a hook that runs before each commit (the n-th, from 1) to play another writer. */
class InterleavedStore implements DeviceStore {
  readonly inner = new InMemoryDeviceStore();
  private commits = 0;
  constructor(
    private readonly before: (commit: number, change: DeviceCommit) => Promise<void> = async () => {},
  ) {}
  load(deviceId: string) {
    return this.inner.load(deviceId);
  }
  async commit(change: DeviceCommit): Promise<CommitResult> {
    this.commits += 1;
    await this.before(this.commits, change);
    return this.inner.commit(change);
  }
}

/** A publisher SNS refuses the first publish of, then accepts. */
const refusingFirst = () => {
  const draws = [0, 1];
  return new RecordingAlertPublisher({ failureProbability: 0.5, random: () => draws.shift() ?? 1 });
};

function reconcilerOver(
  store: InterleavedStore,
  publisher = new RecordingAlertPublisher(),
  { history = new InMemoryAlertHistory(), outboxes = store.inner as OutboxFinder } = {},
) {
  const clock = new VirtualClock(AFTER_SETTLING);
  const publishFailures: string[] = [];
  const reconciler = new Reconciler({
    store,
    events: new InMemoryEventLog({ ttlDays: 30 }),
    history,
    publisher,
    scheduler: new InMemoryCheckScheduler(),
    outboxes,
    uptimeDays: new InMemoryUptimeDays(),
    clock,
    settings: DEFAULT_SETTINGS,
    onPublishFailure: (alert) => publishFailures.push(alert.alertId),
  });
  return { reconciler, publisher, clock, publishFailures };
}

describe('Reconciler: writers that meet', () => {
  it('gives up with a ConcurrentUpdateError when every one of its writes loses to another writer', async () => {
    // Arrange: another writer changes the device just before each of its writes.
    const store: InterleavedStore = new InterleavedStore(async () => {
      await store.inner.commit({
        deviceId: DEVICE,
        facts: { deviceId: DEVICE, presence: false, connections: [], wills: [] },
        outbox: [],
        expectedRevision: (await store.inner.load(DEVICE))?.revision,
        now: T,
      });
    });
    const { reconciler } = reconcilerOver(store);

    // Act
    const reconciling = reconciler.reconcile(DEVICE, lostConnection);

    // Assert
    await expect(reconciling).rejects.toBeInstanceOf(ConcurrentUpdateError);
    await expect(reconciling).rejects.toMatchObject({ deviceId: DEVICE, code: 'concurrent_update' });
  });

  it('publishes an alert after one write, and the next write of the device leaves it out of the outbox', async () => {
    // Arrange
    const store = new InterleavedStore();
    const { reconciler, publisher, clock } = reconcilerOver(store);

    // Act: the outage, then the return a minute later.
    const outage = await reconciler.reconcile(DEVICE, lostConnection);
    const held = store.inner.peek(DEVICE)?.outbox.map((entry) => entry.alert.type);
    clock.set(AFTER_SETTLING + 60_000);
    await reconciler.reconcile(DEVICE, [
      connectedEvent({
        deviceId: DEVICE,
        sessionIdentifier: 's-2',
        versionNumber: 1,
        receivedAt: AFTER_SETTLING + 60_000,
      }),
    ]);

    // Assert: no clearing write of its own; the return's write holds only its own alert.
    expect(outage).toMatchObject({ published: 1, written: true });
    expect(store.inner.commits).toBe(2);
    expect(held).toEqual(['offline']);
    expect(publisher.published.map(({ alert }) => alert.type)).toEqual(['offline', 'online']);
    expect(store.inner.peek(DEVICE)?.outbox.map((entry) => entry.alert.type)).toEqual(['online']);
  });
});

describe('Reconciler: checks', () => {
  /** A device whose connection dropped a second ago: its next look is when W ends. */
  async function dropped() {
    const store = new InterleavedStore();
    const scheduler = new InMemoryCheckScheduler({ maxDelayMs: 900_000, roundUpMs: 1_000 });
    const clock = new VirtualClock(T + 61_000);
    const reconciler = new Reconciler({
      store,
      events: new InMemoryEventLog({ ttlDays: 30 }),
      history: new InMemoryAlertHistory(),
      publisher: new RecordingAlertPublisher(),
      scheduler,
      outboxes: store.inner,
      uptimeDays: new InMemoryUptimeDays(),
      clock,
      settings: DEFAULT_SETTINGS,
    });
    await reconciler.reconcile(DEVICE, lostConnection);
    const arrival = (await store.load(DEVICE))?.pendingChecks?.[0] as number;
    return { reconciler, scheduler, store, arrival };
  }

  it('remembers when the check it asked for arrives, and asks for none while that one is still to come', async () => {
    // Arrange
    const { reconciler, scheduler, arrival } = await dropped();
    // Act: a will of the lost connection changes the record, not the next look.
    await reconciler.reconcile(DEVICE, [willEvent({ deviceId: DEVICE, receivedAt: T + 61_000 })]);
    // Assert
    expect(arrival).toBe(T + 60_000 + DEFAULT_SETTINGS.settleWindowMs);
    expect(scheduler.scheduled).toBe(1);
  });

  it('takes the recheckAt of a record written before checks were remembered as the check still to come', async () => {
    // Arrange: the same record, as the version before remembered it: its recheckAt, no pendingChecks.
    const { reconciler, scheduler, store } = await dropped();
    const stored = await store.inner.load(DEVICE);
    if (!stored) throw new Error('the device was not stored');
    const { pendingChecks: _forgotten, revision, ...legacy } = stored;
    await store.inner.commit({ deviceId: DEVICE, ...legacy, expectedRevision: revision, now: T + 61_000 });
    // Act
    await reconciler.reconcile(DEVICE, [willEvent({ deviceId: DEVICE, receivedAt: T + 61_000 })]);
    // Assert
    expect(scheduler.scheduled).toBe(1);
  });

  it.each([
    ['the check being consumed, named by its arrival', (arrival: number) => [arrival]],
    ['a check of an older format, which does not say when it was meant to arrive', () => [undefined]],
  ])('asks again when the look is still pending after %s', async (_label, arrivals) => {
    // Arrange
    const { reconciler, scheduler, store, arrival } = await dropped();
    // Act
    await reconciler.reconcile(DEVICE, [], { arrivals: arrivals(arrival) });
    // Assert
    expect(scheduler.scheduled).toBe(2);
    expect((await store.load(DEVICE))?.pendingChecks).toHaveLength(1);
  });

  it('reads back the stored events from a time on, in time order, whatever order they were stored in', async () => {
    // Arrange
    const events = new InMemoryEventLog({ ttlDays: 30 });
    const at = (receivedAt: number, sessionIdentifier: string) =>
      connectedEvent({ deviceId: DEVICE, sessionIdentifier, versionNumber: 1, receivedAt });
    for (const event of [at(T + 3_000, 'c'), at(T + 1_000, 'a'), at(T + 4_000, 'd'), at(T + 2_000, 'b')])
      await events.append(event);
    // Act
    const read = await events.storedFrom(DEVICE, T + 2_000);
    // Assert
    expect(read.map((event) => event.kind === 'connected' && event.sessionIdentifier)).toEqual([
      'b',
      'c',
      'd',
    ]);
    expect(await events.storedFrom('another-device', 0)).toEqual([]);
  });

  it.each([
    ['as written now', false],
    ['written before records kept their latest receive times (every stored event is read)', true],
  ])(
    'decides on a return that is stored but that the stream has not delivered yet: a record %s',
    async (_label, legacy) => {
      // Arrange: the drop was reconciled; the return, 30 s later, is stored while its stream batch keeps failing.
      const store = new InMemoryDeviceStore();
      const events = new InMemoryEventLog({ ttlDays: 30 });
      const publisher = new RecordingAlertPublisher();
      const clock = new VirtualClock(T + 60_000);
      const reconciler = new Reconciler({
        store,
        events,
        history: new InMemoryAlertHistory(),
        publisher,
        scheduler: new InMemoryCheckScheduler(),
        outboxes: store,
        uptimeDays: new InMemoryUptimeDays(),
        clock,
        settings: DEFAULT_SETTINGS,
      });
      for (const event of lostConnection) await events.append(event);
      await reconciler.reconcile(DEVICE, lostConnection);
      const arrival = (await store.load(DEVICE))?.pendingChecks?.[0] as number;
      const written = await store.load(DEVICE);
      if (legacy && written) {
        const { revision, facts, ...rest } = written;
        const { lastEventAt: _e, lastConnectedAt: _c, lastDisconnectedAt: _d, ...older } = facts;
        await store.commit({
          deviceId: DEVICE,
          ...rest,
          facts: older,
          expectedRevision: revision,
          now: T + 60_000,
        });
      }
      const back = connectedEvent({
        deviceId: DEVICE,
        sessionIdentifier: 's-2',
        versionNumber: 1,
        receivedAt: T + 90_000,
      });
      await events.append(back);
      // Act: the check when W has passed, then the stream's late delivery of the return.
      clock.advanceTo(arrival);
      const checked = await reconciler.reconcile(DEVICE, [], { arrivals: [arrival] });
      await reconciler.reconcile(DEVICE, [back]);
      // Assert: a flap inside W, which owes no alert.
      expect(checked.view).toMatchObject({ status: 'connected', since: T + 90_000 });
      expect(publisher.published).toEqual([]);
    },
  );

  it('costs one chain of checks, not one per drop, for a device that flaps for three hours (SQS delays at most 15 min)', async () => {
    // Arrange: a drop every 5 minutes, back 30 s later: a flapping episode that goes on, and a settle check per drop.
    const harness = new VirtualFleetHarness({
      startAt: T,
      scheduler: { maxDelayMs: 900_000, roundUpMs: 1_000 },
    });
    const drops = 36;
    // Act
    for (let i = 0; i < drops; i += 1) {
      const at = T + i * 300_000;
      const flap = { deviceId: DEVICE, sessionIdentifier: `s-${i}`, versionNumber: 1 };
      await harness.deliver({ at, deviceEvent: connectedEvent({ ...flap, receivedAt: at }) });
      await harness.deliver({
        at: at + 270_000,
        deviceEvent: disconnectedEvent({
          ...flap,
          receivedAt: at + 270_000,
          disconnectReason: 'CONNECTION_LOST',
        }),
      });
    }
    await harness.finish();
    // Assert: the drops' settle checks, and one chain of 15-minute hops to the episode's end an hour after the last.
    const hops = Math.ceil((drops * 300_000 + 3_600_000) / 900_000);
    expect(harness.alerts().some((a) => a.alert.type === 'flapping')).toBe(true);
    expect(harness.scheduler.scheduled).toBeLessThanOrEqual(drops + hops + 2);
  });
});

describe('Reconciler: nothing to write', () => {
  it.each([
    ['a check of a device never seen', []],
    ['only a failed connect', [connectFailedEvent({ deviceId: DEVICE, receivedAt: T })]],
  ])('writes nothing for %s', async (_label, events) => {
    // Arrange
    const store = new InterleavedStore();
    const { reconciler } = reconcilerOver(store);

    // Act
    const outcome = await reconciler.reconcile(DEVICE, events, { arrivals: [T] });

    // Assert
    expect(outcome).toMatchObject({ written: false, published: 0, alerts: [] });
    expect(store.inner.deviceIds()).toEqual([]);
  });
});

describe('sameData', () => {
  it.each([
    [{ a: 1, b: undefined }, { a: 1 }, true],
    [{ a: 1 }, { a: 1, b: undefined }, true],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [{ a: 1 }, { b: 1 }, false],
    [{ a: [1, { c: 2 }] }, { a: [1, { c: 2 }] }, true],
    [[], {}, false],
    [{ 0: 'x' }, ['x'], false],
    [{ a: 1 }, { a: 2 }, false],
    [{ a: 1 }, null, false],
  ])('compares %j and %j as %s', (a, b, same) => {
    // Act / Assert
    expect(sameData(a, b)).toBe(same);
  });
});

describe('Reconciler: alerts that were not published', () => {
  it('keeps an alert SNS refused in the outbox and reports it; the sweep publishes what the legacy unsent index names', async () => {
    // Arrange: SNS refuses the first publish only; the sweep's index names the device once the lease has ended.
    const store = new InterleavedStore();
    const { reconciler, publisher, clock, publishFailures } = reconcilerOver(store, refusingFirst(), {
      outboxes: {
        findUnsent: async (before) => (before >= AFTER_SETTLING + PUBLISH_LEASE_MS ? [DEVICE] : []),
      },
    });
    const first = await reconciler.reconcile(DEVICE, lostConnection);

    // Act
    const early = await reconciler.sweep({ limit: 10 });
    clock.set(AFTER_SETTLING + PUBLISH_LEASE_MS);
    const swept = await reconciler.sweep({ limit: 10 });

    // Assert
    expect(first).toMatchObject({ published: 0, written: true });
    expect(publishFailures).toEqual([`${DEVICE}/offline/s-1/1`]);
    expect(early).toEqual({ devices: 0, retried: 0 });
    expect(swept).toEqual({ devices: 1, retried: 1 });
    expect(publisher.published.map(({ alert }) => alert.alertId)).toEqual([`${DEVICE}/offline/s-1/1`]);
  });
});

describe('Reconciler: a publisher late past its lease', () => {
  it('does not publish again an alert its first publisher recorded while this one took it over', async () => {
    // Arrange: SNS refuses the first publish; the entry's lease ends; the first publisher, late, records it just as
    // the takeover's write goes in.
    const history = new InMemoryAlertHistory();
    const store: InterleavedStore = new InterleavedStore(async (commit, change) => {
      const taken = change.outbox[0]?.alert;
      if (commit === 2 && taken) await history.record(taken, AFTER_SETTLING + 1_000);
    });
    const { reconciler, publisher, clock } = reconcilerOver(store, refusingFirst(), { history });
    await reconciler.reconcile(DEVICE, lostConnection);

    // Act
    clock.set(AFTER_SETTLING + PUBLISH_LEASE_MS);
    const takeover = await reconciler.reconcile(DEVICE);

    // Assert
    expect(takeover).toMatchObject({ published: 1, written: true });
    expect(publisher.published).toEqual([]);
  });
});

describe('Reconciler: recording what SNS accepted', () => {
  /** A history whose first `failures` records fail, as a store failing every attempt of the SDK client would. */
  function failingHistory(failures: number) {
    const history = new InMemoryAlertHistory();
    let left = failures;
    const flaky = Object.assign(Object.create(history), {
      record: async (...args: Parameters<InMemoryAlertHistory['record']>) => {
        if (left > 0) {
          left -= 1;
          throw new Error('the store failed every attempt');
        }
        await history.record(...args);
      },
    }) as InMemoryAlertHistory;
    return { history, flaky };
  }

  it.each([
    [1, 'records it', 1],
    [3, 'fails the call, the alert left to its lease', 0],
  ])('with %i failing records of a published alert, %s', async (failures, _outcome, recorded) => {
    // Arrange
    const { history, flaky } = failingHistory(failures);
    const { reconciler, publisher } = reconcilerOver(new InterleavedStore(), new RecordingAlertPublisher(), {
      history: flaky,
    });

    // Act
    const outcome = await reconciler.reconcile(DEVICE, lostConnection).catch((error: Error) => error.message);

    // Assert
    expect(publisher.published).toHaveLength(1);
    expect(history.records.size).toBe(recorded);
    expect(outcome).toEqual(
      recorded ? expect.objectContaining({ published: 1 }) : 'the store failed every attempt',
    );
  });
});

describe('Reconciler: the check queue carries the retry of an outbox', () => {
  function withScheduler(publisher = new RecordingAlertPublisher()) {
    const store = new InMemoryDeviceStore();
    const scheduler = new InMemoryCheckScheduler();
    const clock = new VirtualClock(AFTER_SETTLING);
    const history = new InMemoryAlertHistory();
    const reconciler = new Reconciler({
      store,
      events: new InMemoryEventLog({ ttlDays: 30 }),
      history,
      publisher,
      scheduler,
      outboxes: store,
      uptimeDays: new InMemoryUptimeDays(),
      clock,
      settings: DEFAULT_SETTINGS,
    });
    return { store, scheduler, clock, reconciler, publisher, history };
  }

  it('asks for a check at the end of the lease of an alert it claims, and that check publishes it if SNS refused', async () => {
    // Arrange: SNS refuses the first publish only.
    const { scheduler, clock, reconciler, publisher, history } = withScheduler(refusingFirst());
    await reconciler.reconcile(DEVICE, lostConnection);
    const asked = scheduler.peek();

    // Act: the check arrives when the lease has ended.
    clock.set(asked?.fireAt ?? 0);
    const retried = await reconciler.reconcile(DEVICE, [], { arrivals: [asked?.fireAt] });

    // Assert
    expect(asked?.fireAt).toBe(AFTER_SETTLING + PUBLISH_LEASE_MS);
    expect(retried).toMatchObject({ published: 1, written: true });
    expect(publisher.published.map(({ alert }) => alert.alertId)).toEqual([`${DEVICE}/offline/s-1/1`]);
    expect(await history.has(publisher.published[0]?.alert as Alert)).toBe(true);
  });

  it('writes nothing when the check at the end of a lease finds the alert published', async () => {
    // Arrange
    const { store, scheduler, clock, reconciler } = withScheduler();
    await reconciler.reconcile(DEVICE, lostConnection);
    const asked = scheduler.peek();
    const revision = store.peek(DEVICE)?.revision;

    // Act
    clock.set(asked?.fireAt ?? 0);
    const outcome = await reconciler.reconcile(DEVICE, [], { arrivals: [asked?.fireAt] });

    // Assert
    expect(outcome).toMatchObject({ published: 0, written: false });
    expect(store.peek(DEVICE)?.revision).toBe(revision);
  });

  it('asks for a lease check for an outbox written before checks carried the retry, once', async () => {
    // Arrange: a record whose outbox holds an alert not yet published, under another publisher's lease, and no
    // check to come (SNS refuses every publish here).
    const { store, scheduler, clock, reconciler } = withScheduler(
      new RecordingAlertPublisher({ failureProbability: 1, random: () => 0 }),
    );
    await reconciler.reconcile(DEVICE, lostConnection);
    const stored = await store.load(DEVICE);
    const { revision, ...record } = stored as NonNullable<typeof stored>;
    const alert = record.outbox[0]?.alert as Alert;
    await store.commit({
      deviceId: DEVICE,
      ...record,
      pendingChecks: [],
      outbox: [{ alert, retryAt: AFTER_SETTLING + 5_000 }],
      expectedRevision: revision,
      now: AFTER_SETTLING,
    });
    const before = scheduler.scheduled;

    // Act
    clock.set(AFTER_SETTLING + 1_000);
    const first = await reconciler.reconcile(DEVICE);
    const second = await reconciler.reconcile(DEVICE);

    // Assert
    expect(first).toMatchObject({ written: true });
    expect(second).toMatchObject({ written: false });
    expect(scheduler.scheduled - before).toBe(1);
  });
});
