import type { Redis } from 'ioredis';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * The right to poll one bot: a Redis key holding the owner's id with a TTL. Only the holder renews or
 * releases it (compare-and-set in Lua); when the holder dies, the key expires and another poller takes over.
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
    const ok = Number(await this.redis.eval(RENEW, 1, this.key, this.owner, this.ttlMs)) === 1;
    this.validUntil = ok ? started + this.ttlMs : 0;
    return ok;
  }

  async release(): Promise<void> {
    this.validUntil = 0;
    await this.redis.eval(RELEASE, 1, this.key, this.owner);
  }
}
