import { afterAll, describe, expect, it } from 'vitest';
import { assertNoEviction, createRedis, keyspace, RedisPolicyError } from '../../services/core/redis';
import { startRedisServer } from '../support/redis-server';

describe('redis', () => {
  const servers: Array<{ stop(): Promise<void> }> = [];
  afterAll(() => Promise.all(servers.map((s) => s.stop())));

  it('refuses a Redis that may evict queued jobs', async () => {
    const server = await startRedisServer(['--maxmemory-policy', 'allkeys-lru']);
    servers.push(server);
    const redis = createRedis(server.url);
    await expect(assertNoEviction(redis)).rejects.toThrow(RedisPolicyError);
    await expect(assertNoEviction(redis)).rejects.toThrow(/"allkeys-lru".*must be "noeviction"/);
    await redis.quit();
  });

  it('accepts noeviction', async () => {
    const server = await startRedisServer(['--maxmemory-policy', 'noeviction']);
    servers.push(server);
    const redis = createRedis(server.url);
    await expect(assertNoEviction(redis)).resolves.toBeUndefined();
    await redis.quit();
  });

  it('HTTP connections fail fast while Redis is down instead of queueing commands', async () => {
    const server = await startRedisServer();
    const redis = createRedis(server.url, 'http', { retryStrategy: () => 100 });
    await new Promise((resolve) => redis.once('ready', resolve));
    await server.stop();
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await expect(redis.get('x')).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1000);
    redis.disconnect();
  });

  it('scopes keys by deployment prefix and bot', () => {
    const keys = keyspace('nezuko');
    expect(keys.bot(12, 'member', -100, 5)).toBe('nezuko:bot:12:member:-100:5');
    expect(keys.key('leases')).toBe('nezuko:leases');
  });
});
