import type { Redis } from 'ioredis';
import type { Keyspace } from '../redis';

/**
 * Each bot's circuit breaker state as the process calling Telegram for it last recorded it (BotApi), so any
 * process can see it (health checks, the counts sync). It expires on its own when that process dies.
 */
export const breakerKey = (keys: Keyspace, botId: number) => keys.bot(botId, 'breaker');

export const BREAKER_STATE_TTL_S = 120;

/** 'open', 'half-open', 'isolated' or 'closed' as recorded; null when nothing is recorded (closed). */
export function sharedBreakerState(redis: Redis, keys: Keyspace, botId: number): Promise<string | null> {
  return redis.get(breakerKey(keys, botId));
}
