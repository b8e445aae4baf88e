import type { Redis } from 'ioredis';
import type { Keyspace } from '../redis';

/** Sets the cooldown unless a longer one already runs; one round trip. */
const START = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1
`;

/**
 * When each bot may call Telegram again after a 429: one key per bot in Redis, the only copy. Every call of
 * every process reads it in the same round trip that paces it (pacing.ts `clearance`), right before the
 * request leaves, so a 429 recorded by one process stops the next call of any process. A local mirror kept
 * up to date over pub/sub let calls through until its message arrived, and for good when a reconnecting
 * subscriber missed it (test/core/cooldowns.test.ts).
 */
export class Cooldowns {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
  ) {}

  key(botId: number): string {
    return this.keys.bot(botId, 'cooldown');
  }

  /** Records a `retry_after` for every process, never shortening a longer one. */
  async start(botId: number, ms: number): Promise<void> {
    await this.redis.eval(START, 1, this.key(botId), Math.ceil(ms));
  }

  /** Milliseconds this bot must still wait; 0 when it may call now. */
  async remaining(botId: number): Promise<number> {
    return Math.max(0, Number(await this.redis.pttl(this.key(botId))));
  }
}
