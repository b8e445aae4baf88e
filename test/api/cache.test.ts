// The entity cache's in-process layer over Redis: what it serves, and that invalidation reaches it at once.
import { describe, expect, it } from 'vitest';
import { entityCache } from '../../services/api/cache';
import type { AppContext } from '../../services/core/context';
import { logger } from '../../services/core/logger';
import { keyspace } from '../../services/core/redis';
import { useTestRedis } from '../support/redis';

const redis = useTestRedis();
// Two caches over one Redis prefix stand for two API processes.
const ctx = {
  redis: redis.redis,
  keys: keyspace(redis.prefix),
  config: { API_CACHE_TTL_SECONDS: 300 },
  log: logger,
} as unknown as AppContext;
const text = (body: { bytes: Buffer }) => body.bytes.toString();

describe('entity cache', () => {
  it('serves JSON (bigints as strings) from this process, then Redis, and reloads after an invalidation', async () => {
    const cache = entityCache(ctx);
    let loads = 0;
    const load = async () => ({ n: ++loads, chatId: -1001234567890123n });
    expect(text(await cache.read('groups', 'item:1', load))).toBe('{"n":1,"chatId":"-1001234567890123"}');
    // Redis entries gone (a first read stores none anyway): the in-process copy still answers, without a load.
    const keys = (await redis.redis.keys(`${redis.prefix}:api:cache:groups:*`)).filter((k) => !k.endsWith(':gen'));
    if (keys.length) await redis.redis.del(...keys);
    expect(text(await cache.read('groups', 'item:1', load))).toBe('{"n":1,"chatId":"-1001234567890123"}');
    expect(loads).toBe(1);

    // Another process has no copy of its own yet: it reads Redis (filled again here) rather than loading.
    await cache.invalidate('groups');
    expect(text(await cache.read('groups', 'item:1', load))).toContain('"n":2');
    const other = entityCache(ctx);
    expect(text(await other.read('groups', 'item:1', load))).toContain('"n":2');
    expect(loads).toBe(2);
    // Invalidating one kind leaves the other kind's reads alone in Redis, but no stale copy anywhere here.
    await other.invalidate('channels');
    expect(text(await other.read('groups', 'item:1', load))).toContain('"n":2');
    expect(loads).toBe(2);
  });

  it('does not keep what a read loaded while an invalidation ran', async () => {
    const cache = entityCache(ctx);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let loads = 0;
    const slow = cache.read('channels', 'list:slow', async () => {
      loads++;
      await gate;
      return { version: 'before the change' };
    });
    // Give the read time to pass the Redis lookup and start loading.
    await expect.poll(() => loads).toBe(1);
    await cache.invalidate('channels');
    release();
    expect(text(await slow)).toContain('before the change');
    expect(text(await cache.read('channels', 'list:slow', async () => ({ version: 'after the change' })))).toContain(
      'after the change',
    );
  });

  it('Redis keeps only reads that repeat: 1,000 one-off searches add nothing, a repeated one is shared', async () => {
    const cache = entityCache(ctx);
    const before = await redis.redis.keys(`${redis.prefix}:api:cache:groups:*`);
    const page = (q: string) => async () => ({
      items: Array.from({ length: 20 }, (_, i) => ({ id: i, title: `${q} ${'x'.repeat(200)}` })),
      q,
    });
    for (let i = 0; i < 1_000; i++) await cache.read('groups', `list:{"q":"search ${i}"}`, page(`search ${i}`));
    const after = await redis.redis.keys(`${redis.prefix}:api:cache:groups:*`);
    const added = after.filter((k) => !before.includes(k) && !k.endsWith(':gen'));
    console.log(`[api:cache] 1,000 distinct searches added ${added.length} Redis keys`);
    expect(added).toEqual([]);
    // The same search read again (here from this process' own copy) is stored, and another process reads it.
    await cache.read('groups', 'list:{"q":"search 7"}', page('search 7'));
    let loads = 0;
    const other = entityCache(ctx);
    expect(text(await other.read('groups', 'list:{"q":"search 7"}', async () => (loads++, { other: true })))).toContain(
      '"q":"search 7"',
    );
    expect(loads).toBe(0);
  });
});
