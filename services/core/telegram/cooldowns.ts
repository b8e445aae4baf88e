import type { Redis } from 'ioredis';
import type { Keyspace } from '../redis';

/**
 * When each bot may call Telegram again after a 429, known to every process: the 429 is written to Redis
 * (for processes that start later) and published (for those running), so the check before each call is a
 * local lookup instead of a Redis round trip.
 */
export class Cooldowns {
  private readonly until = new Map<number, number>();
  private subscriber: Redis | undefined;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
  ) {}

  private get channel() {
    return this.keys.key('cooldowns');
  }

  private key(botId: number) {
    return this.keys.bot(botId, 'cooldown');
  }

  /** Subscribes once per process and loads the bot's current cooldown, if any. */
  async watch(botId: number): Promise<void> {
    this.ready ??= (async () => {
      this.subscriber = this.redis.duplicate({ connectionName: 'nezuko-cooldowns', enableAutoPipelining: false });
      this.subscriber.on('error', () => {});
      this.subscriber.on('message', (_channel, raw: string) => {
        const [id, until] = raw.split(':').map(Number);
        if (id !== undefined && until !== undefined) this.raise(id, until);
      });
      await this.subscriber.subscribe(this.channel);
    })();
    await this.ready;
    const remaining = Number(await this.redis.pttl(this.key(botId)));
    if (remaining > 0) this.raise(botId, Date.now() + remaining);
  }

  private raise(botId: number, until: number) {
    if (until > (this.until.get(botId) ?? 0)) this.until.set(botId, until);
  }

  /** Milliseconds this bot must still wait; 0 when it may call now. */
  remaining(botId: number): number {
    return Math.max(0, (this.until.get(botId) ?? 0) - Date.now());
  }

  /** Records a `retry_after` for every process, never shortening a longer one. */
  async start(botId: number, ms: number): Promise<void> {
    const until = Date.now() + ms;
    this.raise(botId, until);
    const current = Number(await this.redis.pttl(this.key(botId)));
    if (current < ms) await this.redis.set(this.key(botId), '1', 'PX', ms);
    await this.redis.publish(this.channel, `${botId}:${until}`);
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }
}
