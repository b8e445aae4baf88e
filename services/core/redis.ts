import { Redis, type RedisOptions } from 'ioredis';

/**
 * - `worker`: BullMQ workers and blocking commands; commands wait through reconnects (`maxRetriesPerRequest: null`).
 * - `http`: connections that serve requests fail fast while Redis is down instead of queueing (`enableOfflineQueue: false`).
 * - `default`: everything else (pollers, caches, locks): a few retries, then the caller decides.
 */
export type RedisPurpose = 'worker' | 'http' | 'default';

export function createRedis(url: string, purpose: RedisPurpose = 'default', extra: RedisOptions = {}): Redis {
  const byPurpose: Record<RedisPurpose, RedisOptions> = {
    worker: { maxRetriesPerRequest: null },
    http: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
    // Handlers issue many small commands at once; pipelining them per tick saves a socket write each.
    // (Not for BullMQ's connections: it manages its own command flow.)
    default: { maxRetriesPerRequest: 3, enableAutoPipelining: true },
  };
  return new Redis(url, {
    connectionName: `nezuko-${purpose}`,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    ...byPurpose[purpose],
    ...extra,
  });
}

export class RedisPolicyError extends Error {
  override name = 'RedisPolicyError';
}

/**
 * BullMQ keeps jobs in Redis: with any eviction policy but `noeviction`, Redis may silently drop queued
 * updates under memory pressure. Read from INFO, which managed Redis services allow when CONFIG is disabled.
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const info = await redis.info('memory');
  const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  if (policy !== 'noeviction') {
    throw new RedisPolicyError(
      `Redis maxmemory-policy is "${policy ?? 'unknown'}"; it must be "noeviction" or queued jobs can be evicted (redis-cli CONFIG SET maxmemory-policy noeviction)`,
    );
  }
}

/** Redis key helpers: every key lives under the deployment prefix, every bot's keys under `bot:<id>:`. */
export function keyspace(prefix: string) {
  return {
    prefix,
    key: (...parts: Array<string | number>) => [prefix, ...parts].join(':'),
    bot: (botId: number, ...parts: Array<string | number>) => [prefix, 'bot', botId, ...parts].join(':'),
  };
}
export type Keyspace = ReturnType<typeof keyspace>;

/*
 * Compare-and-act scripts for keys that hold their owner's id (locks, claims, leases, notes): only the owner
 * deletes or renews, in one atomic step, so an owner whose key expired and was taken by another never touches
 * the new owner's.
 */
const DELETE_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const PEXPIRE_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/** Deletes `key` only while it holds `value`; true when it did. */
export async function deleteIfEqual(redis: Redis, key: string, value: string): Promise<boolean> {
  return Number(await redis.eval(DELETE_IF_EQUAL, 1, key, value)) === 1;
}

/** Sets `key`'s TTL to `ttlMs` only while it holds `value`; true when it did. */
export async function expireIfEqual(redis: Redis, key: string, value: string, ttlMs: number): Promise<boolean> {
  return Number(await redis.eval(PEXPIRE_IF_EQUAL, 1, key, value, ttlMs)) === 1;
}
