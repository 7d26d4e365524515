/** Time for the local runtime: virtual (replay: jumps from due time to due time) or real (the local stack). */
export interface Timers {
  now(): number;
  /** Runs `task` at `at` (or right away if that has passed). Background tasks (the sweep) never count as pending. */
  at(at: number, task: () => Promise<void>, options?: { background?: boolean }): void;
  /**
   * Runs `tick(end)` at every multiple of `periodMs` from now on, as background work. `tick` resolves to whether it
   * found work: virtual time skips the ticks after one that found none until something else could give them work.
   */
  every(periodMs: number, tick: (end: number) => Promise<boolean>): void;
}

/** The first multiple of `periodMs` after `time`. */
const boundaryAfter = (time: number, periodMs: number) => (Math.floor(time / periodMs) + 1) * periodMs;

/** Every tick, through `timers.at`: what real time does. */
export function tickThrough(
  timers: Pick<Timers, 'at' | 'now'>,
  periodMs: number,
  tick: (end: number) => Promise<boolean>,
): void {
  const next = (end: number) =>
    timers.at(end, async () => {
      await tick(end);
      next(end + periodMs);
    });
  next(boundaryAfter(timers.now(), periodMs));
}

interface Scheduled {
  at: number;
  seq: number;
  task: () => Promise<void>;
  background: boolean;
  /** Set for a tick of `every`: running it wakes no ticker. */
  ticker?: Ticker;
}

interface Ticker {
  periodMs: number;
  tick: (end: number) => Promise<boolean>;
  /** Its last tick found nothing and nothing has run since: no tick is queued. */
  dormant: boolean;
}

/** Tasks in order of due time, then of scheduling: a binary heap, so that a storm's many checks stay cheap. */
class TaskHeap {
  private readonly items: Scheduled[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Scheduled | undefined {
    return this.items[0];
  }

  push(item: Scheduled): void {
    const items = this.items;
    items.push(item);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(items[i] as Scheduled, items[parent] as Scheduled)) break;
      [items[i], items[parent]] = [items[parent] as Scheduled, items[i] as Scheduled];
      i = parent;
    }
  }

  pop(): Scheduled | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || !last) return top;
    items[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < items.length && before(items[left] as Scheduled, items[first] as Scheduled)) first = left;
      if (right < items.length && before(items[right] as Scheduled, items[first] as Scheduled)) first = right;
      if (first === i) return top;
      [items[i], items[first]] = [items[first] as Scheduled, items[i] as Scheduled];
      i = first;
    }
  }
}

const before = (a: Scheduled, b: Scheduled) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/** Virtual time: nothing runs until the owner advances the clock. */
export class VirtualTimers implements Timers {
  private current: number;
  private seq = 0;
  private readonly dueTasks = new TaskHeap();
  private readonly backgroundTasks = new TaskHeap();
  private readonly tickers: Ticker[] = [];

  constructor(start: number) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  at(at: number, task: () => Promise<void>, options: { background?: boolean } = {}): void {
    const background = options.background ?? false;
    (background ? this.backgroundTasks : this.dueTasks).push({
      at: Math.max(at, this.current),
      seq: this.seq++,
      task,
      background,
    });
  }

  /**
   * A tick that found nothing to do finds nothing at the next boundary either, unless something ran in between: the
   * ticker sleeps until another task runs (its next tick then comes at or after that task's time) or the owner
   * advances the clock again (it may have written meanwhile). A stream's idle window costs reads of every shard,
   * and a simulated day holds 2,880 windows of 30 s.
   */
  every(periodMs: number, tick: (end: number) => Promise<boolean>): void {
    const ticker: Ticker = { periodMs, tick, dormant: false };
    this.tickers.push(ticker);
    this.queueTick(ticker, boundaryAfter(this.current, periodMs));
  }

  private queueTick(ticker: Ticker, end: number): void {
    ticker.dormant = false;
    this.backgroundTasks.push({
      at: end,
      seq: this.seq++,
      background: true,
      ticker,
      task: async () => {
        if (await ticker.tick(end)) this.queueTick(ticker, end + ticker.periodMs);
        else ticker.dormant = true;
      },
    });
  }

  /** Queues the next tick of every sleeping ticker: at the first boundary at or after `time` (after it if `after`). */
  private wake(time: number, after: boolean): void {
    for (const ticker of this.tickers) {
      if (!ticker.dormant) continue;
      const end = after
        ? boundaryAfter(time, ticker.periodMs)
        : Math.ceil(time / ticker.periodMs) * ticker.periodMs;
      this.queueTick(ticker, end);
    }
  }

  /** When the next task that is not background work is due. */
  nextForegroundDue(): number | undefined {
    return this.dueTasks.peek()?.at;
  }

  /** Advances until nothing but background work is pending. */
  async runUntilIdle(): Promise<void> {
    for (let next = this.nextForegroundDue(); next !== undefined; next = this.nextForegroundDue()) {
      await this.advanceTo(next);
    }
  }

  /** Runs every task due up to `until`, in time order, with the clock set to each task's time. */
  async advanceTo(until: number): Promise<void> {
    // Whatever the owner did since the last advance happened at the current time, after any tick due then.
    this.wake(this.current, true);
    for (;;) {
      const fore = this.dueTasks.peek();
      const back = this.backgroundTasks.peek();
      const heap = fore && (!back || before(fore, back)) ? this.dueTasks : this.backgroundTasks;
      const item = heap.peek();
      if (!item || item.at > until) break;
      heap.pop();
      this.current = Math.max(this.current, item.at);
      await item.task();
      // It may have written: a sleeping ticker looks again at the end of the window it wrote in.
      if (!item.ticker) this.wake(this.current, false);
    }
    this.current = Math.max(this.current, until);
  }
}

/** Real time: setTimeout, with every timer cancellable on shutdown. */
export class RealTimers implements Timers {
  private handles = new Set<NodeJS.Timeout>();
  constructor(private readonly onError: (error: unknown) => void) {}

  now(): number {
    return Date.now();
  }

  at(at: number, task: () => Promise<void>): void {
    const handle = setTimeout(
      () => {
        this.handles.delete(handle);
        task().catch(this.onError);
      },
      Math.max(0, at - Date.now()),
    );
    this.handles.add(handle);
  }

  every(periodMs: number, tick: (end: number) => Promise<boolean>): void {
    tickThrough(this, periodMs, tick);
  }
  cancelAll(): void {
    for (const handle of this.handles) clearTimeout(handle);
    this.handles.clear();
  }
}
