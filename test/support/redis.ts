import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, inject } from 'vitest';
import { createRedis } from '../../services/core/redis';

export const testRedisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A Redis key prefix of the calling test file's own (use it as REDIS_PREFIX / BullMQ prefix), and a
 * connection; every key under the prefix is deleted in afterAll. Call at module top level.
 */
export function useTestRedis() {
  const prefix = `t${inject('testRunId')}${randomBytes(3).toString('hex')}`;
  const redis: Redis = createRedis(testRedisUrl, 'default');

  afterAll(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
    await redis.quit();
  });

  return { prefix, redis, url: testRedisUrl };
}
