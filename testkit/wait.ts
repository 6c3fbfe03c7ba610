// Waiting in tests: a sleep, and polling a condition until it yields a value or time runs out.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** until polls f every intervalMs until it returns a truthy value (returned), or throws after ms naming what. */
export async function until<T>(f: () => Promise<T | undefined | false> | T | undefined | false, ms: number, what: string, intervalMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}
