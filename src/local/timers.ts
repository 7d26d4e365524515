/** Time for the local runtime: virtual (replay: jumps from due time to due time) or real (the local stack). */
export interface Timers {
  now(): number;
  /** Runs `task` at `at` (or right away if that has passed). Background tasks (the sweep) never count as pending. */
  at(at: number, task: () => Promise<void>, options?: { background?: boolean }): void;
}

interface Scheduled {
  at: number;
  seq: number;
  task: () => Promise<void>;
  background: boolean;
}

/** Virtual time: nothing runs until the owner advances the clock. */
export class VirtualTimers implements Timers {
  private current: number;
  private seq = 0;
  private queue: Scheduled[] = [];

  constructor(start: number) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  at(at: number, task: () => Promise<void>, options: { background?: boolean } = {}): void {
    this.queue.push({
      at: Math.max(at, this.current),
      seq: this.seq++,
      task,
      background: options.background ?? false,
    });
  }

  /** When the next task that is not background work is due. */
  nextForegroundDue(): number | undefined {
    let next: number | undefined;
    for (const item of this.queue)
      if (!item.background && (next === undefined || item.at < next)) next = item.at;
    return next;
  }

  /** Advances until nothing but background work is pending. */
  async runUntilIdle(): Promise<void> {
    for (let next = this.nextForegroundDue(); next !== undefined; next = this.nextForegroundDue()) {
      await this.advanceTo(next);
    }
  }

  /** Runs every task due up to `until`, in time order, with the clock set to each task's time. */
  async advanceTo(until: number): Promise<void> {
    for (;;) {
      let index = -1;
      for (let i = 0; i < this.queue.length; i += 1) {
        const item = this.queue[i] as Scheduled;
        const best = this.queue[index];
        if (item.at <= until && (!best || item.at < best.at || (item.at === best.at && item.seq < best.seq)))
          index = i;
      }
      if (index < 0) break;
      const [item] = this.queue.splice(index, 1) as [Scheduled];
      this.current = Math.max(this.current, item.at);
      await item.task();
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

  cancelAll(): void {
    for (const handle of this.handles) clearTimeout(handle);
    this.handles.clear();
  }
}
