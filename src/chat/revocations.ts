/**
 * TokenRevocations keeps, per user, the time before which that user's connection tokens are
 * revoked (Centrifugo PRO's "user tokens invalidation by issue time", JWT `iat`). Every node keeps
 * its own copy, filled by the broker's control channel; entries expire once every token they
 * could refuse has expired anyway, and an LRU bound keeps the map small.
 */
import { LruMap } from './lru.js';

/** TokenRevocations answers whether a user's token issued at some time is revoked. */
export class TokenRevocations {
  private readonly byUser: LruMap<string, { issuedBefore: number; until: number }>;
  private readonly now: () => number;

  /**
   * keepSeconds is how long an entry is kept: at least the longest connection-token lifetime the
   * server issues, after which every token it refuses has expired on its own.
   */
  constructor(private readonly keepSeconds: number, maxUsers: number, now: () => number = Date.now) {
    this.byUser = new LruMap(maxUsers);
    this.now = now;
  }

  /** revoke refuses the user's tokens issued before issuedBefore (unix seconds); a later time wins. revokedAt (epoch ms, default now) starts its keepSeconds (a revocation read back from the database). */
  revoke(user: string, issuedBefore: number, revokedAt = this.now()): void {
    const old = this.byUser.peek(user);
    const until = Math.max(revokedAt + this.keepSeconds * 1000, old?.until ?? 0);
    if (until <= this.now()) return;
    this.byUser.set(user, { issuedBefore: Math.max(issuedBefore, old?.issuedBefore ?? 0), until });
  }

  /** isRevoked tells whether a token of the user issued at issuedAt (unix seconds; 0 = no iat claim) is revoked. */
  isRevoked(user: string, issuedAt: number): boolean {
    if (user === '') return false;
    const e = this.byUser.peek(user);
    if (!e) return false;
    if (e.until <= this.now()) {
      this.byUser.delete(user);
      return false;
    }
    // A token without iat cannot prove it is newer, so it is revoked with the rest.
    return issuedAt < e.issuedBefore;
  }

  get size(): number {
    return this.byUser.size;
  }
}
