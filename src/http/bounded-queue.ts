/**
 * BoundedQueue runs async tasks with at most `concurrency` at a time and at most `maxQueued`
 * waiting; past that, run() refuses at once (QueueFullError) instead of letting a flood pile up.
 * Login uses one for password hashing, so argon2 never holds every libuv thread (file reads
 * for static files share that pool) however many logins arrive.
 */
export class QueueFullError extends Error {
  constructor(readonly maxQueued: number) {
    super(`the queue is full (${maxQueued} waiting)`);
    this.name = 'QueueFullError';
  }
}

export class BoundedQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly concurrency: number, readonly maxQueued: number) {
    if (!(concurrency >= 1) || !(maxQueued >= 0)) throw new RangeError('BoundedQueue needs concurrency >= 1 and maxQueued >= 0');
  }

  /** size is how many tasks run or wait now. */
  get size(): number {
    return this.running + this.waiting.length;
  }

  /** run starts the task when a slot is free; throws QueueFullError when maxQueued tasks already wait. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueued) throw new QueueFullError(this.maxQueued);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
