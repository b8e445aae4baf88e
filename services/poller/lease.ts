import type { Redis } from 'ioredis';
import { deleteIfEqual, expireIfEqual } from '../core/redis';

/**
 * The right to poll one bot: a Redis key holding the owner's id with a TTL. Only the holder renews or
 * releases it (compare-and-set, core/redis.ts); when the holder dies, the key expires and another poller takes over.
 */
export class Lease {
  private validUntil = 0;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly owner: string,
    readonly ttlMs: number,
  ) {}

  /** True while the last acquire/renew is younger than the TTL, by our own clock (checked before each poll). */
  get held(): boolean {
    return Date.now() < this.validUntil;
  }

  async acquire(): Promise<boolean> {
    const started = Date.now();
    const ok = (await this.redis.set(this.key, this.owner, 'PX', this.ttlMs, 'NX')) === 'OK';
    if (ok) this.validUntil = started + this.ttlMs;
    return ok;
  }

  async renew(): Promise<boolean> {
    const started = Date.now();
    const ok = await expireIfEqual(this.redis, this.key, this.owner, this.ttlMs);
    this.validUntil = ok ? started + this.ttlMs : 0;
    return ok;
  }

  async release(): Promise<void> {
    this.validUntil = 0;
    await deleteIfEqual(this.redis, this.key, this.owner);
  }
}
