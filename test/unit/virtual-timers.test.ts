import { describe, expect, it } from 'vitest';
import { VirtualTimers } from '../../src/local/timers.js';

const PERIOD = 30_000;

/** A ticker that finds work at the ends listed in `busyAt` and records every end it ticked at. */
function recordingTicker(timers: VirtualTimers, busyAt: number[] = []) {
  const ticks: number[] = [];
  timers.every(PERIOD, async (end) => {
    ticks.push(end);
    return busyAt.includes(end);
  });
  return ticks;
}

describe('VirtualTimers.every', () => {
  it('ticks at every period boundary while each tick finds work', async () => {
    const timers = new VirtualTimers(10_000);
    const ticks = recordingTicker(timers, [30_000, 60_000, 90_000, 120_000]);
    await timers.advanceTo(120_000);
    expect(ticks).toEqual([30_000, 60_000, 90_000, 120_000]);
  });

  it('sleeps after a tick that found nothing, however far the clock moves', async () => {
    const timers = new VirtualTimers(0);
    const ticks = recordingTicker(timers);
    await timers.advanceTo(86_400_000);
    expect(ticks).toEqual([30_000]);
    expect(timers.now()).toBe(86_400_000);
  });

  it('wakes at the end of the window in which another task ran', async () => {
    const timers = new VirtualTimers(0);
    const ticks = recordingTicker(timers);
    timers.at(200_000, async () => undefined);
    timers.at(270_000, async () => undefined);
    await timers.advanceTo(1_000_000);
    // 210,000 closes the window the task at 200,000 ran in; a task on a boundary is counted in the window it ends.
    expect(ticks).toEqual([30_000, 210_000, 270_000]);
  });

  it('wakes at the next boundary when the owner advances the clock again', async () => {
    const timers = new VirtualTimers(0);
    const ticks = recordingTicker(timers);
    await timers.advanceTo(100_000);
    // The owner may have written at 100,000: the window that holds it ends at 120,000.
    await timers.advanceTo(500_000);
    expect(ticks).toEqual([30_000, 120_000]);
  });

  it('never counts as pending foreground work', async () => {
    const timers = new VirtualTimers(0);
    const ticks = recordingTicker(timers, [30_000, 60_000]);
    await timers.runUntilIdle();
    expect(ticks).toEqual([]);
    expect(timers.nextForegroundDue()).toBeUndefined();
  });
});
