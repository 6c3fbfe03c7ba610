/**
 * RegistrationLimit counts accounts created per client address (IPv6 per /64) in a fixed window,
 * so one address cannot mint accounts (and through them channels) without bound (issue 19 #8).
 */
import { addressKey, LruMap } from './login-throttle.js';

/** REGISTRATION_TRACKED_ADDRESSES caps the table; the least recently seen addresses go first. */
const REGISTRATION_TRACKED_ADDRESSES = 100_000;

export class RegistrationLimit {
  private readonly windows = new LruMap<string, { start: number; count: number }>(REGISTRATION_TRACKED_ADDRESSES);

  constructor(private readonly perAddress: number, private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  /** retryAfterMs is 0 when `ip` may register now, else how long until its window ends. */
  retryAfterMs(ip: string): number {
    if (this.perAddress === 0) return 0;
    const w = this.windows.get(addressKey(ip));
    const now = this.now();
    if (!w || now - w.start >= this.windowMs || w.count < this.perAddress) return 0;
    return w.start + this.windowMs - now;
  }

  /** counted records one account created from `ip`. */
  counted(ip: string): void {
    if (this.perAddress === 0) return;
    const key = addressKey(ip);
    const now = this.now();
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) this.windows.set(key, { start: now, count: 1 });
    else w.count++;
  }
}
